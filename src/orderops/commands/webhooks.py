"""`orderops webhooks add|list|show|disable|enable|rotate|remove|deliveries|redeliver`:
outbound webhook subscriptions from a terminal.

The same services as ``/v1/webhook-subscriptions`` (``outbound.subscriptions``), so a
change here is audited as one from the API, with the actor ``cli``. A signing secret
(``whsec_...``) is printed once, by ``add`` and ``rotate``, and never again: listings and
``show`` carry no secret. docs/OUTBOUND_WEBHOOKS.md has the payloads and how a receiver
verifies a signature. (Inbound webhooks, from the store's own providers, are ``sources``.)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    default_app,
    opened_app,
    print_json,
)
from orderops.domain.outbound_webhooks import EventType

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.outbound.subscriptions import Delivery, Issued
    from orderops.storage.tables.outbound_webhooks import WebhookSubscription

# The services (and with them the database layer) are imported inside each command, so
# that `orderops --help` does not load them.

ACTOR = "cli"
SUBSCRIPTION_FIELDS = (
    "id",
    "url",
    "description",
    "event_types",
    "enabled",
    "disabled_reason",
    "disabled_at",
    "secret_version",
    "previous_secret_until",
    "failing_since",
    "consecutive_failures",
    "created_at",
    "created_by",
    "updated_at",
)
"""What ``list`` and ``show`` print: the API's ``SubscriptionRead`` (no secret)."""

SubscriptionArg = Annotated[
    str, typer.Argument(help="Subscription id (from `orderops webhooks list`).")
]
IssuedJsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the subscription with its secret as JSON.")
]
DeliveryStatus = ("pending", "in_flight", "unconfirmed", "delivered", "failed", "cancelled")


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the ``webhooks`` group to ``cli``; tests pass a factory for their own app."""
    group = typer.Typer(
        no_args_is_help=True,
        help="Outbound webhooks: the retailer's endpoints told of case and action events.",
    )
    cli.add_typer(group, name="webhooks")
    console = Console(width=160)

    def opened(tenant: str, *, signs: bool) -> AbstractContextManager[App]:
        return opened_app(make_app, console, tenant=tenant, signs=signs)

    @group.command("add")
    def add(
        tenant: TenantOpt,
        url: Annotated[str, typer.Option(help="The receiver's https:// URL.")],
        event: Annotated[
            list[EventType],
            typer.Option("--event", "-e", help="An event type to send; repeatable."),
        ],
        description: Annotated[
            str | None, typer.Option(help="What the endpoint is (max 200 characters).")
        ] = None,
        json_: IssuedJsonOpt = False,
    ) -> None:
        """Subscribe an endpoint; prints its signing secret, once."""
        from orderops.outbound import subscriptions

        with opened(tenant, signs=True) as app:
            issued = subscriptions.create_subscription(
                app.sessions,
                tenant_id=tenant,
                url=url,
                event_types=[str(e) for e in event],
                description=description,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
        _print_issued(console, issued, "subscribed", json_)

    @group.command("list")
    def list_(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """The tenant's subscriptions, oldest first (never their secrets)."""
        from rich.table import Table

        from orderops.outbound import subscriptions

        with opened(tenant, signs=False) as app:
            rows = subscriptions.list_subscriptions(app.sessions, tenant_id=tenant)
        found = [_fields(row) for row in rows]
        if json_:
            print_json({"items": found})
            return
        if not found:
            console.print(f"tenant {tenant} has no webhook subscriptions", highlight=False)
            return
        table = Table("url", "events", "state", "failures", "since")
        table.add_column("id", no_wrap=True, min_width=32)
        for row in found:
            table.add_row(
                row["url"],
                ", ".join(row["event_types"]),
                _state(row),
                str(row["consecutive_failures"]),
                _when(row["failing_since"]),
                row["id"],
            )
        console.print(table)

    @group.command("show")
    def show(tenant: TenantOpt, subscription_id: SubscriptionArg, json_: JsonOpt = False) -> None:
        """One subscription (without its secret)."""
        from orderops.outbound import subscriptions

        with opened(tenant, signs=False) as app:
            row = subscriptions.get_subscription(
                app.sessions, tenant_id=tenant, subscription_id=subscription_id
            )
        found = _fields(row)
        if json_:
            print_json(found)
            return
        for name in SUBSCRIPTION_FIELDS:
            value = found[name]
            shown = ", ".join(value) if isinstance(value, list) else _when(value)
            console.print(f"{name}: {shown}", markup=False, highlight=False)

    def switch(tenant: str, subscription_id: str, *, enabled: bool) -> None:
        from orderops.outbound import subscriptions

        with opened(tenant, signs=True) as app:
            row = subscriptions.update_subscription(
                app.sessions,
                tenant_id=tenant,
                subscription_id=subscription_id,
                changes={"enabled": enabled},
                clock=app.clock,
                actor=ACTOR,
            )
        console.print(f"subscription {row.id}: {_state(_fields(row))}", highlight=False)

    @group.command("disable")
    def disable(tenant: TenantOpt, subscription_id: SubscriptionArg) -> None:
        """Stop sending to the endpoint (events meanwhile are not queued for it)."""
        switch(tenant, subscription_id, enabled=False)

    @group.command("enable")
    def enable(tenant: TenantOpt, subscription_id: SubscriptionArg) -> None:
        """Send again, with a clean failure streak; failed events stay failed until
        redelivered."""
        switch(tenant, subscription_id, enabled=True)

    @group.command("rotate")
    def rotate(
        tenant: TenantOpt,
        subscription_id: SubscriptionArg,
        overlap: Annotated[
            str | None,
            typer.Option(help="How long the old secret also signs, e.g. 24h or 0 (default 24h)."),
        ] = None,
        json_: IssuedJsonOpt = False,
    ) -> None:
        """A new signing secret, printed once; the old one keeps signing for the overlap."""
        from orderops.domain.durations import parse_duration
        from orderops.outbound import subscriptions

        with opened(tenant, signs=True) as app:
            issued = subscriptions.rotate_secret(
                app.sessions,
                tenant_id=tenant,
                subscription_id=subscription_id,
                overlap=parse_duration(overlap) if overlap is not None else None,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
        _print_issued(console, issued, "rotated", json_)

    @group.command("remove")
    def remove(tenant: TenantOpt, subscription_id: SubscriptionArg) -> None:
        """Delete a subscription and its delivery log; undelivered events are cancelled."""
        from orderops.outbound import subscriptions

        with opened(tenant, signs=True) as app:
            subscriptions.delete_subscription(
                app.sessions,
                tenant_id=tenant,
                subscription_id=subscription_id,
                clock=app.clock,
                actor=ACTOR,
            )
        console.print(f"subscription {subscription_id} removed", highlight=False)

    @group.command("deliveries")
    def deliveries(
        tenant: TenantOpt,
        subscription_id: SubscriptionArg,
        status: Annotated[
            str | None,
            typer.Option(help=f"Only deliveries in this state ({', '.join(DeliveryStatus)})."),
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=200, help="Rows to show.")] = 50,
        json_: JsonOpt = False,
    ) -> None:
        """The delivery log: events sent to the subscription, newest first, each attempt."""
        from orderops.outbound import subscriptions

        if status is not None and status not in DeliveryStatus:
            raise typer.BadParameter(
                f"unknown state {status!r}; one of {', '.join(DeliveryStatus)}",
                param_hint="--status",
            )
        with opened(tenant, signs=False) as app:
            found = subscriptions.deliveries(
                app.sessions,
                tenant_id=tenant,
                subscription_id=subscription_id,
                status=status,
                limit=limit,
            )
        items = [_delivery(d) for d in found]
        if json_:
            print_json({"items": items})
            return
        _print_deliveries(console, items)

    @group.command("redeliver")
    def redeliver(
        tenant: TenantOpt,
        subscription_id: SubscriptionArg,
        delivery_id: Annotated[str, typer.Argument(help="From `orderops webhooks deliveries`.")],
    ) -> None:
        """Send an event again with the same webhook-id (refused while still queued)."""
        from orderops.outbound import subscriptions

        with opened(tenant, signs=True) as app:
            message = subscriptions.redeliver(
                app.sessions,
                tenant_id=tenant,
                subscription_id=subscription_id,
                delivery_id=delivery_id,
                clock=app.clock,
                actor=ACTOR,
            )
        console.print(f"delivery {message.id} queued ({message.status})", highlight=False)


def _fields(row: WebhookSubscription) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SUBSCRIPTION_FIELDS}


def _state(row: dict[str, Any]) -> str:
    if row["enabled"]:
        return "enabled"
    return f"disabled ({row['disabled_reason']})" if row["disabled_reason"] else "disabled"


def _when(value: Any) -> str:
    if value is None:
        return "-"
    isoformat: Callable[..., str] | None = getattr(value, "isoformat", None)
    return isoformat(timespec="seconds") if isoformat is not None else str(value)


def _print_issued(console: Console, issued: Issued, verb: str, as_json: bool) -> None:
    """The secret on stdout, once; the reminder on stderr, so ``| read`` gets the secret."""
    fields = _fields(issued.subscription)
    if as_json:
        print_json({**fields, "secret": issued.secret})
    else:
        notice = Console(stderr=True)
        notice.print(
            f"subscription {fields['id']} {verb} -> {fields['url']} "
            f"({', '.join(fields['event_types'])}); its signing secret follows, shown once: "
            "store it now",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        typer.echo(issued.secret)


def _delivery(found: Delivery) -> dict[str, Any]:
    message = found.message
    return {
        "id": message.id,
        "event_id": str(message.payload.get("event_id")),
        "event_type": str(message.payload.get("event_type", message.operation)),
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "dead_letter_reason": message.dead_letter_reason,
        "created_at": message.created_at,
        "completed_at": message.completed_at,
        "log": [
            {
                "number": a.number,
                "attempted_at": a.attempted_at,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in found.attempts
        ],
    }


def _print_deliveries(console: Console, items: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not items:
        console.print("no deliveries")
        return
    table = Table("created", "event", "status", "attempts", "last answer")
    table.add_column("id", no_wrap=True, min_width=32)
    for item in items:
        last = item["log"][-1] if item["log"] else None
        answer = (
            f"{last['outcome']} {last['status_code'] or ''}".strip()
            if last
            else (item["last_error"] or "-")
        )
        table.add_row(
            _when(item["created_at"]),
            item["event_type"],
            item["status"],
            str(item["attempts"]),
            answer,
            item["id"],
        )
    console.print(table)
