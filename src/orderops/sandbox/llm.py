"""An OpenAI-compatible chat-completions sandbox, for tests, the demo and ``orderops eval llm``.

``POST /v1/chat/completions`` answers in the OpenAI shape (``choices[0].message.content``
holding the JSON the request's schema asks for, and ``usage``). What it answers:

- recorded responses, when given (``load_recorded``: a JSONL file, one recorded answer a
  line), replayed in order and round again, each after its recorded latency when
  ``replay_latency`` is set;
- otherwise an answer made from the FACTS in the prompt: a summary citing them, or a draft.

Faults are queued like a vendor's bad day: ``fail_next(429)`` or ``fail_next(500)``
answers the next calls with that status in OpenAI's error shape, ``stall_next(seconds)``
holds the next answers that long (a client with a shorter timeout gives up). Every request
is kept in ``seen``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

_FACTS = re.compile(r"FACTS \(JSON\):\n(\{.*\})\n")
MAX_REPLAYED_LATENCY_SECONDS = 5.0


@dataclass(frozen=True)
class Recorded:
    """One recorded answer: the JSON content, its token usage and how long it took."""

    content: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float = 0.0
    model: str | None = None
    label: str | None = None
    """What the recording is (``faithful``, ``invents-refund``, ...), for the evaluation."""


def load_recorded(path: Path) -> list[Recorded]:
    """The recorded answers of a JSONL file; a bad line raises ``ValueError`` naming it."""
    answers: list[Recorded] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            usage = row.get("usage") or {}
            answers.append(
                Recorded(
                    content=dict(row["content"]),
                    prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=int(usage.get("completion_tokens", 0)),
                    latency_ms=float(row.get("latency_ms", 0.0)),
                    model=row.get("model"),
                    label=row.get("label"),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{number}: not a recorded answer ({exc})") from exc
    return answers


def _facts(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    match = _FACTS.search(str(messages[-1].get("content", ""))) if messages else None
    facts = json.loads(match.group(1)) if match else {}
    return facts if isinstance(facts, dict) else {}


def _made_up(body: dict[str, Any]) -> dict[str, Any]:
    """An answer from the prompt's facts, in the shape the request's schema names."""
    facts = _facts(body)
    order = facts.get("order", "your order")
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    if schema == "summary":
        text = f"{str(facts.get('exception', 'an exception')).capitalize()} on order {order}"
        if facts.get("order_total"):
            text += f" ({facts['order_total']}, placed {facts.get('placed')})"
        return {"summary": text + "."}
    return {
        "subject": f"Your order {order}",
        "customer_message": f"Hi, we are looking into order {order} for you.",
        "internal_note": "Drafted by the sandbox.",
    }


@dataclass
class LlmSandbox:
    recorded: list[Recorded] = field(default_factory=list)
    replay_latency: bool = False
    model: str = "sandbox-model"
    seen: list[dict[str, Any]] = field(default_factory=list)
    _faults: deque[tuple[str, float]] = field(default_factory=deque)
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([("status", float(status))] * times)

    def stall_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([("stall", seconds)] * times)

    def _take(self) -> tuple[tuple[str, float] | None, Recorded | None]:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            answer = None
            if fault is None and self.recorded:
                answer = self.recorded[self._next % len(self.recorded)]
                self._next += 1
            return fault, answer

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.post("/v1/chat/completions")
        async def complete(request: Request) -> JSONResponse:
            body = await request.json()
            self.seen.append({"body": body, "authorization": request.headers.get("authorization")})
            fault, answer = self._take()
            if fault is not None and fault[0] == "status":
                status = int(fault[1])
                kind = "rate_limit_exceeded" if status == 429 else "server_error"
                return JSONResponse(
                    {"error": {"message": f"sandbox fault {status}", "type": kind, "code": kind}},
                    status_code=status,
                    headers={"retry-after": "1"} if status == 429 else None,
                )
            if fault is not None:
                await asyncio.sleep(fault[1])
            if answer is not None and self.replay_latency:
                await asyncio.sleep(min(answer.latency_ms / 1000, MAX_REPLAYED_LATENCY_SECONDS))
            content = answer.content if answer else _made_up(body)
            prompt = answer.prompt_tokens if answer else 100
            completion = answer.completion_tokens if answer else 30
            return JSONResponse(
                {
                    "id": f"chatcmpl-{len(self.seen)}",
                    "object": "chat.completion",
                    "model": (answer.model if answer and answer.model else None)
                    or str(body.get("model") or self.model),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": json.dumps(content)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    },
                }
            )

        return api
