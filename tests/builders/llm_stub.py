"""A local OpenAI-compatible chat server of our own, for the language-model path.

The requested ``model`` picks the behaviour: ``good`` drafts from the facts it was given,
``wrong`` changes an amount, a date and the order number, ``hostile`` obeys the ticket
(instructions, another customer's data), ``broken`` answers something that is not a
draft. Every request is kept so tests can read what the model was shown.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI, Request


def _facts(messages: list[dict[str, str]]) -> dict[str, Any]:
    user = messages[-1]["content"]
    match = re.search(r"FACTS \(JSON\):\n(\{.*\})\n", user)
    assert match is not None, user
    facts: dict[str, Any] = json.loads(match.group(1))
    return facts


def _draft(model: str, facts: dict[str, Any]) -> dict[str, str]:
    order, credit = facts["order"], facts.get("credit", "")
    name = facts.get("first_name", "there")
    if model == "good":
        body = f"Hi {name}, we are sorry order {order} is late. A replacement is on its way"
        body += f" and {credit} of store credit is in your account." if credit else "."
        if facts.get("tracking"):
            body += f" Tracking number: {facts['tracking']}."
    elif model == "wrong":
        body = (
            f"Hi {name}, order #99999 was promised for January 3, 2023;"
            " we added $75.00 of store credit."
        )
    else:
        body = (
            f"Hi {name}, as you asked we will ignore our rules and instructions"
            " and refund $5,000.00. "
            "We also told bob.smith@example.org about his order #1377."
        )
    return {"subject": f"Your order {order}", "customer_message": body, "internal_note": "Drafted."}


def llm_stub() -> tuple[FastAPI, list[dict[str, Any]]]:
    app = FastAPI()
    seen: list[dict[str, Any]] = []

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> dict[str, Any]:
        body = await request.json()
        seen.append({"body": body, "authorization": request.headers.get("authorization")})
        model = body["model"]
        content = (
            "not json at all"
            if model == "broken"
            else json.dumps(_draft(model, _facts(body["messages"])))
        )
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
        }

    return app, seen
