"""Zendesk: open a ticket or update one (comment, status), once per idempotency key.

No idempotency header here: a new ticket carries ``orderops:<key>`` as its
``external_id`` and is looked up by it before creating; an update adds a marker tag
(``additional_tags``, which never removes anyone else's tags) and is skipped if the tag is
already on the ticket.

Whether a public comment's email reached the requester is read back from the ticket's
audits (``delivery_failures``): the audit that wrote our comment is the one that added our
marker tag (or, for a ticket we opened, its first audit), and a later ``Error`` event
naming that comment is its bounce.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from orderops.writeback.connectors.markers import tag_marker
from orderops.writeback.connectors.transport import (
    ApiClient,
    ConnectorBase,
    ConnectorOptions,
    ProviderError,
)

SYSTEM = "zendesk"


@dataclass(frozen=True)
class Ticket:
    id: int
    subject: str
    status: str
    external_id: str | None
    tags: tuple[str, ...] = field(default=())
    replayed: bool = False


@dataclass(frozen=True)
class DeliveryFailure:
    """The email that carried one of our comments came back."""

    comment_id: int
    recipient: str | None
    reason: str


def external_id_for(idempotency_key: str) -> str:
    return f"orderops:{idempotency_key}"


def parse_zendesk_error(response: httpx.Response) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        return ProviderError(None, response.text[:200])
    if not isinstance(body, dict):
        return ProviderError(None, str(body)[:200])
    error = body.get("error")
    description = body.get("description") or error
    return ProviderError(str(error) if error else None, str(description))


class ZendeskConnector(ConnectorBase):
    def __init__(
        self, *, base_url: str, email: str, api_token: str, options: ConnectorOptions
    ) -> None:
        self._api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            options=options,
            parse_error=parse_zendesk_error,
            auth=(f"{email}/token", api_token),
        )

    def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        requester_email: str,
        idempotency_key: str,
        tags: tuple[str, ...] = (),
        public: bool = True,
    ) -> Ticket:
        external_id = external_id_for(idempotency_key)

        def attempt() -> Ticket:
            found = self._api.request_json(
                "GET", "/api/v2/tickets.json", params={"external_id": external_id}
            )
            if found["tickets"]:
                return _ticket(found["tickets"][0], replayed=True)
            payload = {
                "ticket": {
                    "subject": subject,
                    "comment": {"body": body, "public": public},
                    "requester": {"email": requester_email},
                    "external_id": external_id,
                    "tags": list(tags),
                }
            }
            created = self._api.request_json("POST", "/api/v2/tickets.json", json=payload)
            return _ticket(created["ticket"])

        return self._api.run(attempt)

    def update_ticket(
        self,
        *,
        ticket_id: int,
        idempotency_key: str,
        comment: str | None = None,
        public: bool = False,
        status: str | None = None,
    ) -> Ticket:
        marker = tag_marker(idempotency_key)
        changes: dict[str, Any] = {"additional_tags": [marker]}
        if comment is not None:
            changes["comment"] = {"body": comment, "public": public}
        if status is not None:
            changes["status"] = status

        def attempt() -> Ticket:
            current = self._get(ticket_id)
            if marker in current.tags:
                return replace(current, replayed=True)
            path = f"/api/v2/tickets/{ticket_id}.json"
            return _ticket(self._api.request_json("PUT", path, json={"ticket": changes})["ticket"])

        return self._api.run(attempt)

    def get_ticket(self, ticket_id: int) -> Ticket:
        return self._api.run(lambda: self._get(ticket_id))

    def list_comments(self, ticket_id: int) -> list[str]:
        path = f"/api/v2/tickets/{ticket_id}/comments.json"
        body = self._api.run(lambda: self._api.request_json("GET", path))
        return [str(c["body"]) for c in body["comments"]]

    def delivery_failures(self, ticket_id: int, *, marker: str | None) -> list[DeliveryFailure]:
        """Bounces of the comments one effect wrote: the audit whose tag change added
        ``marker``, or the ticket's first audit when ``marker`` is None (we created it)."""
        path = f"/api/v2/tickets/{ticket_id}/audits.json"
        audits = self._api.run(lambda: self._api.request_json("GET", path))["audits"]
        return bounces_of(audits, marker=marker)

    def _get(self, ticket_id: int) -> Ticket:
        body = self._api.request_json("GET", f"/api/v2/tickets/{ticket_id}.json")
        return _ticket(body["ticket"])


def _ticket(body: dict[str, Any], *, replayed: bool = False) -> Ticket:
    return Ticket(
        id=int(body["id"]),
        subject=str(body.get("subject") or ""),
        status=str(body["status"]),
        external_id=body.get("external_id"),
        tags=tuple(str(t) for t in body.get("tags") or ()),
        replayed=replayed,
    )


def bounces_of(audits: list[dict[str, Any]], *, marker: str | None) -> list[DeliveryFailure]:
    ours: set[int] = set()
    for index, audit in enumerate(audits):
        events = audit.get("events") or []
        if marker is None:
            mine = index == 0
        else:
            mine = any(
                e.get("type") == "Change"
                and e.get("field_name") == "tags"
                and marker in (e.get("value") or [])
                for e in events
            )
        if mine:
            ours |= {int(e["id"]) for e in events if e.get("type") == "Comment"}
            break
    return [
        DeliveryFailure(int(e["comment_id"]), e.get("recipient"), str(e.get("message") or ""))
        for audit in audits
        for e in audit.get("events") or []
        if e.get("type") == "Error"
        and isinstance(e.get("comment_id"), int)
        and int(e["comment_id"]) in ours
    ]
