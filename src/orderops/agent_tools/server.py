"""The MCP server: the tools and resources agents see, each a thin shell.

Arguments are typed and bounded here (pydantic, through the SDK: a malformed call is an
error naming the argument before anything runs); each tool then runs through
``calls.call`` with the permission the REST API asks for the same thing (``cases:read``
for reads and explanations, ``actions:propose`` for proposals, ``cases:work`` for drafts),
and answers JSON. A refusal answers as a tool error ``<code>: <message>``, the codes the
REST API's problem+json carries (``not-found``, ``forbidden``, ``unauthorized``,
``rate-limited``, ``agent-money-limit``, ``agent-auto-approval``, ...).

There is no tool that approves, rejects, releases, sends or executes: the list of tools is
the whole surface (``TOOLS``), and a test holds it to that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field

from orderops.agent_tools import proposals, reads, resources
from orderops.agent_tools.calls import ToolDesk, call
from orderops.domain.actions import ActionKind, catalogue
from orderops.domain.cases import CaseStatus, ExceptionType
from orderops.domain.errors import OrderOpsError
from orderops.domain.roles import Permission
from orderops.tenancy.tenants import Principal

NO_NUL = r"^[^\x00]*$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
OrderRef = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
QueueName = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
Reason = Annotated[str, Field(min_length=3, max_length=1000, pattern=NO_NUL)]
Amount = Annotated[int, Field(ge=0, le=10**12, description="minor units (cents)")]

TOOLS = (
    "search_cases",
    "get_case",
    "get_timeline",
    "get_order",
    "get_customer",
    "explain_case",
    "propose_action",
    "draft_message",
)
INSTRUCTIONS = (
    "OrderOps exception desk. Read cases, orders, customers and timelines; explain a case; "
    "propose actions and draft customer messages for people to approve in the console. "
    "Nothing here approves or executes anything. Use dry_run=true to see the approval "
    "path and the effects a proposal would have without making it. Amounts are in minor "
    "units. Resources: orderops://policies/{approval|fulfillment|routing} and "
    "orderops://playbooks/{current|N}."
)


def build_server(desk: ToolDesk, *, key: str | None = None) -> MCPServer:
    """The server over ``desk``. ``key``: the stdio server's one key; without it each
    request's ``Authorization: Bearer`` header is the key (HTTP)."""
    with _root_logging_kept():
        server = MCPServer("orderops", instructions=INSTRUCTIONS, warn_on_duplicate_tools=False)

    def run(
        ctx: Context,
        tool: str,
        permission: Permission,
        arguments: Mapping[str, Any],
        work: Callable[[Principal], dict[str, Any]],
    ) -> dict[str, Any]:
        try:
            return call(
                desk,
                secret=key if key is not None else bearer(ctx.headers),
                tool=tool,
                permission=permission,
                arguments=arguments,
                work=work,
            )
        except OrderOpsError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from exc

    app = desk.app
    read = Permission.CASES_READ

    def read_one(
        ctx: Context, tool: str, name: str, value: str, reader: Callable[..., dict[str, Any]]
    ) -> dict[str, Any]:
        """A read of one object named by one argument: ``reader(app, principal, value)``."""
        return run(ctx, tool, read, {name: value}, lambda p: reader(app, p, value))

    @server.tool(
        description="List cases like GET /v1/cases: filters by status, type, queue; "
        "text finds cases by order number, email, phone, tracking number or name."
    )
    def search_cases(
        ctx: Context,
        status: list[CaseStatus] | None = None,
        type: list[ExceptionType] | None = None,
        queue: Annotated[list[QueueName] | None, Field(max_length=20)] = None,
        text: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None,
        open_only: bool = True,
        limit: Annotated[int, Field(ge=1, le=100)] = 25,
    ) -> dict[str, Any]:
        args = {
            "status": status,
            "type": type,
            "queue": queue,
            "text": text,
            "open_only": open_only,
            "limit": limit,
        }
        return run(
            ctx,
            "search_cases",
            read,
            args,
            lambda p: reads.search_cases(
                app,
                p,
                status=[str(s) for s in status or []],
                exception_type=[str(t) for t in type or []],
                queue=list(queue or []),
                text=text,
                open_only=open_only,
                limit=limit,
            ),
        )

    @server.tool(description="One case with its facts, timeline and holds.")
    def get_case(ctx: Context, case_id: Id) -> dict[str, Any]:
        return read_one(ctx, "get_case", "case_id", case_id, reads.get_case)

    @server.tool(description="A case's timeline, oldest first.")
    def get_timeline(ctx: Context, case_id: Id) -> dict[str, Any]:
        return read_one(ctx, "get_timeline", "case_id", case_id, reads.get_timeline)

    @server.tool(description="An order by its reference: lines, payments, shipments, cases.")
    def get_order(ctx: Context, order_ref: OrderRef) -> dict[str, Any]:
        return read_one(ctx, "get_order", "order_ref", order_ref, reads.get_order)

    @server.tool(description="A customer and their orders of the last year.")
    def get_customer(ctx: Context, customer_id: Id) -> dict[str, Any]:
        return read_one(ctx, "get_customer", "customer_id", customer_id, reads.get_customer)

    @server.tool(description="Explain a case: facts, impact, the recommended action and why.")
    def explain_case(ctx: Context, case_id: Id) -> dict[str, Any]:
        return read_one(ctx, "explain_case", "case_id", case_id, reads.explain_case)

    @server.tool(
        description=(
            "Propose an action on a case for people to approve (never approved here). amount_minor "
            "fills the kind's amount; params carries the kind's other parameters (see the "
            "catalogue, GET /v1/action-kinds). dry_run=true answers the approval path and the "
            "effects approval would queue, and changes nothing."
        )
    )
    def propose_action(
        ctx: Context,
        case_id: Id,
        kind: ActionKind,
        reason: Reason,
        amount_minor: Amount | None = None,
        params: Annotated[dict[str, Any] | None, Field(max_length=20)] = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        merged = dict(params or {})
        if amount_minor is not None:
            merged["amount_minor"] = amount_minor
        if "reason" in catalogue()[kind].params.model_fields:  # the kind records a reason
            merged.setdefault("reason", reason)
        args = {
            "case_id": case_id,
            "kind": str(kind),
            "reason": reason,
            "amount_minor": amount_minor,
            "params": merged,
            "dry_run": dry_run,
        }
        return run(
            ctx,
            "propose_action",
            Permission.ACTIONS_PROPOSE,
            args,
            lambda p: proposals.propose_action(
                desk,
                p,
                case_id=case_id,
                kind=str(kind),
                params=merged,
                reason=reason,
                dry_run=dry_run,
            ),
        )

    @server.tool(
        description=(
            "Draft a customer message on a case; a person approves and sends it in the console. "
            "dry_run=true shows the draft and changes nothing."
        )
    )
    def draft_message(
        ctx: Context,
        case_id: Id,
        body: Annotated[str, Field(min_length=1, max_length=20_000, pattern=NO_NUL)],
        subject: Annotated[str | None, Field(max_length=998, pattern=NO_NUL)] = None,
        channel: Annotated[str, Field(pattern=r"^(email|sms)$")] = "email",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        args = {
            "case_id": case_id,
            "body": body,
            "subject": subject,
            "channel": channel,
            "dry_run": dry_run,
        }
        return run(
            ctx,
            "draft_message",
            Permission.CASES_WORK,
            args,
            lambda p: proposals.draft_message(
                desk,
                p,
                case_id=case_id,
                body=body,
                subject=subject,
                channel=channel,
                dry_run=dry_run,
            ),
        )

    @server.resource(
        "orderops://policies/{name}",
        mime_type="application/json",
        description="approval, fulfillment or routing: the version in force",
    )
    def policy(name: str, ctx: Context) -> dict[str, Any]:
        return _resource(
            run,
            ctx,
            f"policies/{name}",
            lambda p: resources.policy(app, p, name),
            permission=resources.permission_for(name),
        )

    @server.resource(
        "orderops://playbooks/{version}",
        mime_type="application/json",
        description="the tenant's playbook: current, or a version number",
    )
    def playbook(version: str, ctx: Context) -> dict[str, Any]:
        return _resource(
            run, ctx, f"playbooks/{version}", lambda p: resources.playbook(app, p, version)
        )

    return server


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """The SDK's server configures the root logger as it is built (``logging.basicConfig``
    at INFO with a rich handler): every app that built it, in the demo, the tests and the
    benchmarks' servers, then printed each request and each outbound HTTP call in colour to
    stderr, at a cost in CPU per request the desk does not pay under ``orderops serve``
    (whose JSON logs are configured first, so the call did nothing there). Logging belongs
    to the process that embeds the desk: what the root logger had is put back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _resource(
    run: Callable[..., dict[str, Any]],
    ctx: Context,
    name: str,
    work: Callable[[Principal], dict[str, Any]],
    *,
    permission: Permission = Permission.CASES_READ,
) -> dict[str, Any]:
    try:
        return run(ctx, f"resource:{name}", permission, {}, work)
    except ToolError as exc:
        raise ResourceError(str(exc)) from exc


def bearer(headers: Mapping[str, str] | None) -> str | None:
    """The key of ``Authorization: Bearer <key>``, if the request has one."""
    value = (headers or {}).get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
