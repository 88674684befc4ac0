"""An agent that works a queue through the OrderOps tool API (MCP), leaving approval to people.

For each open case of the queue it explains the case (facts, impact, the desk's recommended
actions and why), picks an action, checks it with a dry run (the approval path and the effects
approval would have, nothing changed), and proposes it. The proposal waits in the console for
a person to approve or reject; the agent can do neither. A candidate the tool API refuses (a
money limit, a rule that would approve it without a person, a remedy already waiting on the
order) is passed over for the next one.

The choice is scripted (the desk's top candidate first) unless a language model is configured
the way OrderOps configures its own (``ORDEROPS_LLM_ENABLED=true``, ``ORDEROPS_LLM_BASE_URL``,
``ORDEROPS_LLM_MODEL``, ``ORDEROPS_LLM_API_KEY``; an OpenAI-compatible server): then the model
orders the candidates, and the scripted order stands whenever it cannot answer.

    ./ops demo                                   # the desk, in another terminal
    orderops tenant key --tenant demo --service queue-agent      # prints the key once
    orderops agents limits set --tenant demo --key oo_live_xxxxxxxx \
        --per-action 10000 --per-day 50000
    export ORDEROPS_API_KEY=oo_live_...
    .venv/bin/python examples/agent_queue.py --queue ops --url http://127.0.0.1:8000/mcp
    .venv/bin/python examples/agent_queue.py --queue ops --stdio --tenant demo   # or over stdio

See examples/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

Candidate = dict[str, Any]
Chooser = Callable[[dict[str, Any]], list[Candidate]]
"""Orders the candidate actions of an explained case, best first."""


@dataclass
class Outcome:
    case_id: str
    proposed: dict[str, Any] | None = None
    passed_over: list[str] = field(default_factory=list)
    note: str | None = None


class ToolRefused(Exception):
    """A tool answered with an error (``<code>: <message>``)."""


async def tool(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    text = "".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        raise ToolRefused(text.removeprefix(f"Error executing tool {name}: "))
    data = result.structured_content
    return data if isinstance(data, dict) else json.loads(text)


def candidates_of(explained: dict[str, Any]) -> list[Candidate]:
    """Every single action the desk recommends, in its order (best candidate first)."""
    recommendation = explained.get("recommendation") or {}
    return [
        {"kind": action["kind"], "params": action["params"], "why": candidate["rationale"]}
        for candidate in recommendation.get("candidates", [])
        for action in candidate["actions"]
    ]


def scripted(explained: dict[str, Any]) -> list[Candidate]:
    return candidates_of(explained)


def with_model() -> Chooser | None:
    """The model's ordering when ORDEROPS_LLM_ENABLED is set, else None (scripted)."""
    try:
        from orderops.recommend.llm import LlmClient, LlmSettings, ModelUnavailable
    except ImportError:  # run outside the OrderOps environment: scripted only
        return None
    settings = LlmSettings()
    if not settings.enabled:
        return None
    llm = LlmClient(settings)
    schema = {
        "type": "object",
        "properties": {"order": {"type": "array", "items": {"type": "integer"}}},
        "required": ["order"],
        "additionalProperties": False,
    }

    def choose(explained: dict[str, Any]) -> list[Candidate]:
        options = candidates_of(explained)
        if len(options) < 2:
            return options
        prompt = {
            "case": explained["case"],
            "facts": explained["facts"],
            "options": [
                {"index": i, "kind": o["kind"], "why": o["why"]} for i, o in enumerate(options)
            ],
        }
        messages = [
            {
                "role": "system",
                "content": "You help an e-commerce exception desk. Order the "
                "options by how well they resolve the case for the customer at the least cost. "
                "Answer with the option indexes, best first.",
            },
            {"role": "user", "content": json.dumps(prompt, default=str)},
        ]
        try:
            answer, _, _ = llm.complete(messages, name="choice", schema=schema)
        except ModelUnavailable:
            return options
        picked = [
            options[i]
            for i in answer.get("order", [])
            if isinstance(i, int) and 0 <= i < len(options)
        ]
        return picked + [o for o in options if o not in picked]

    return choose


async def work_queue(
    client: Client,
    *,
    queue: str,
    chooser: Chooser = scripted,
    limit: int = 20,
    dry_run_only: bool = False,
) -> list[Outcome]:
    """Propose one action for each open case of ``queue`` that has none waiting yet."""
    listed = await tool(client, "search_cases", queue=[queue], open_only=True, limit=limit)
    outcomes = []
    for case in listed["cases"]:
        outcome = Outcome(case_id=case["id"])
        outcomes.append(outcome)
        if case["status"] == "awaiting_approval":
            outcome.note = "already waiting for people"
            continue
        explained = await tool(client, "explain_case", case_id=case["id"])
        for candidate in chooser(explained):
            arguments = {
                "case_id": case["id"],
                "kind": candidate["kind"],
                "params": candidate["params"],
                "reason": (candidate["why"] or f"recommended {candidate['kind']}")[:900],
            }
            try:
                await tool(client, "propose_action", **arguments, dry_run=True)
                if dry_run_only:
                    outcome.note = f"would propose {candidate['kind']}"
                    break
                outcome.proposed = await tool(client, "propose_action", **arguments)
                break
            except ToolRefused as refused:
                outcome.passed_over.append(f"{candidate['kind']}: {refused}")
        else:
            outcome.note = outcome.note or "nothing the agent may propose"
    return outcomes


@asynccontextmanager
async def connect(args: argparse.Namespace, key: str) -> AsyncIterator[Client]:
    if args.stdio:
        orderops = str(Path(sys.executable).with_name("orderops"))
        params = StdioServerParameters(
            command=orderops,
            args=["mcp", "serve", "--tenant", args.tenant],
            env={**os.environ, "ORDEROPS_API_KEY": key},
        )
        async with Client(params, cache=None) as client:
            yield client
        return
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(args.url, http_client=http), cache=None) as client,
    ):
        yield client


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queue", default="ops")
    parser.add_argument("--url", default="http://127.0.0.1:8000/mcp")
    parser.add_argument("--stdio", action="store_true", help="run `orderops mcp serve` instead")
    parser.add_argument("--tenant", default="demo", help="with --stdio")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--dry-run", action="store_true", help="propose nothing, say what")
    args = parser.parse_args(argv)
    key = os.environ.get("ORDEROPS_API_KEY", "")
    if not key:
        parser.error("set ORDEROPS_API_KEY to the agent's key")
    chooser = with_model() or scripted

    async def run() -> list[Outcome]:
        async with connect(args, key) as client:
            return await work_queue(
                client,
                queue=args.queue,
                chooser=chooser,
                limit=args.limit,
                dry_run_only=args.dry_run,
            )

    for outcome in anyio.run(run):
        done = outcome.proposed["proposed"] if outcome.proposed else None
        line = f"{outcome.case_id}: " + (
            f"proposed {done['kind']} ({done['amount_minor']}), waiting for approval"
            if done
            else outcome.note or "-"
        )
        print(line)
        for reason in outcome.passed_over:
            print(f"    passed over {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
