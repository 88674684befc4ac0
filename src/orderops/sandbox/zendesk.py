"""A Zendesk Support API v2 stand-in: create and update tickets, read them back.

Zendesk takes no idempotency header, so connectors mark their effects: a ticket carries
the key in ``external_id`` (searchable with ``GET /api/v2/tickets.json?external_id=``) and
an update adds a marker tag through ``additional_tags``. Auth is Zendesk's API-token basic
auth, ``{email}/token:{api_token}``.

Every change is a ticket *audit* (``GET /api/v2/tickets/{id}/audits.json``), as in Zendesk:
a ``Create`` or ``Change`` event, a ``Comment`` event with the comment's id, and for a
public comment a ``Notification`` event to the requester. A requester address can be made
to bounce (``bounce_address``): the email carrying each later public comment then comes
back, and the sandbox adds a further audit, via the system, with an ``Error`` event
naming the address, the mail server's answer and the comment it carried (``comment_id``,
the one liberty taken: Zendesk shows the failure on the ticket's events, not keyed).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from orderops.domain.clock import Clock, SystemClock
from orderops.sandbox.control import SandboxControl
from orderops.sandbox.http import ApiError, basic_credentials, json_body

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")


def render_zendesk_error(status: int, code: str, message: str) -> dict[str, Any]:
    if status == 401:
        return {"error": "Couldn't authenticate you"}
    if status == 422:
        return {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"base": [{"description": message}]},
        }
    return {"error": code, "description": message}


class ZendeskSandbox:
    def __init__(
        self,
        *,
        email: str = "agent@orderops.test",
        api_token: str = "zd_orderops",
        clock: Clock | None = None,
    ) -> None:
        self.email = email
        self.api_token = api_token
        self._clock = clock or SystemClock()
        self.control = SandboxControl(render_error=render_zendesk_error)
        self._lock = threading.RLock()
        self._tickets: dict[int, dict[str, Any]] = {}
        self._comments: dict[int, list[dict[str, Any]]] = {}
        self._audits: dict[int, list[dict[str, Any]]] = {}
        self._bouncing: dict[str, str] = {}
        self._next = 100
        self.app = self._build_app()

    def seed_ticket(
        self, *, ticket_id: int, subject: str, body: str, status: str, requester_email: str
    ) -> None:
        """Create or move a ticket under the id another system already knows it by (the
        demo's simulated store): the customer's message is its first comment; no ledger
        entry, since the ledger counts only effects asked of the API."""
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            now = self._clock.now().isoformat()
            if ticket is None:
                ticket = {
                    "id": ticket_id,
                    "subject": subject,
                    "status": _status(status),
                    "priority": None,
                    "external_id": None,
                    "tags": [],
                    "requester": {"email": requester_email},
                    "created_at": now,
                    "updated_at": now,
                }
                self._tickets[ticket_id] = ticket
                self._comments[ticket_id] = []
                self._audits[ticket_id] = []
                first = self._add_comment(ticket_id, {"body": body or subject})
                self._audit(ticket_id, [{"type": "Create"}, _comment_event(first)])
            ticket["status"], ticket["updated_at"] = _status(status), now

    def bounce_address(self, email: str, reason: str = "550 5.1.1 mailbox unavailable") -> None:
        """Mail to ``email`` bounces from now on, with the mail server's ``reason``."""
        with self._lock:
            self._bouncing[email.lower()] = reason

    def audits(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._ticket(ticket_id)
            return [dict(a, events=[dict(e) for e in a["events"]]) for a in self._audits[ticket_id]]

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        with self._lock:
            return _copy(self._ticket(ticket_id))

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._lock:
            self._ticket(ticket_id)
            return [dict(c) for c in self._comments[ticket_id]]

    # -- effects ----------------------------------------------------------------------

    def _create(self, data: dict[str, Any]) -> dict[str, Any]:
        comment = data.get("comment")
        if not isinstance(comment, dict) or not str(comment.get("body") or "").strip():
            raise ApiError(422, "invalid", "Description: cannot be blank")
        with self._lock:
            ticket_id = self._id()
            now = self._clock.now().isoformat()
            requester = data.get("requester") if isinstance(data.get("requester"), dict) else {}
            ticket = {
                "id": ticket_id,
                "subject": str(data.get("subject") or ""),
                "status": _status(data.get("status") or "new"),
                "priority": data.get("priority"),
                "external_id": data.get("external_id"),
                "tags": _tags(data.get("tags")),
                "requester": dict(requester or {}),
                "created_at": now,
                "updated_at": now,
            }
            self._tickets[ticket_id] = ticket
            self._comments[ticket_id] = []
            self._audits[ticket_id] = []
            entry = self._add_comment(ticket_id, comment)
            audit = self._audit(ticket_id, [{"type": "Create"}, *self._told(ticket, entry)])
            self._bounce(ticket, entry)
            self.control.ledger.record(
                "ticket.created", str(ticket_id), data={"external_id": ticket["external_id"]}
            )
            return {**_copy(ticket), "_audit": audit}

    def _update(self, ticket_id: int, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            ticket = self._ticket(ticket_id)
            if ticket["status"] == "closed":
                raise ApiError(422, "invalid", "Status: closed prevents ticket update")
            changes: dict[str, Any] = {}
            events: list[dict[str, Any]] = []
            entry: dict[str, Any] | None = None
            if "status" in data:
                ticket["status"] = changes["status"] = _status(data["status"])
            if "tags" in data:
                ticket["tags"] = changes["tags"] = _tags(data["tags"])
            added = [t for t in _tags(data.get("additional_tags")) if t not in ticket["tags"]]
            if added:
                ticket["tags"] = [*ticket["tags"], *added]
                changes["additional_tags"] = added
            events += [
                {"type": "Change", "field_name": k, "value": v}
                for k, v in changes.items()
                if k != "additional_tags"
            ]
            if added:
                events.append({"type": "Change", "field_name": "tags", "value": ticket["tags"]})
            comment = data.get("comment")
            if isinstance(comment, dict) and str(comment.get("body") or "").strip():
                entry = self._add_comment(ticket_id, comment)
                changes["comment"] = entry["body"]
                events += self._told(ticket, entry)
            ticket["updated_at"] = self._clock.now().isoformat()
            audit = self._audit(ticket_id, events)
            if entry is not None:
                self._bounce(ticket, entry)
            self.control.ledger.record("ticket.updated", str(ticket_id), data=changes)
            return {**_copy(ticket), "_audit": audit}

    def _add_comment(self, ticket_id: int, comment: dict[str, Any]) -> dict[str, Any]:
        entry = {
            "id": self._id(),
            "body": str(comment["body"]),
            "public": bool(comment.get("public", True)),
            "created_at": self._clock.now().isoformat(),
        }
        self._comments[ticket_id].append(entry)
        return entry

    def _audit(self, ticket_id: int, events: list[dict[str, Any]], **via: Any) -> dict[str, Any]:
        audit = {
            "id": self._id(),
            "ticket_id": ticket_id,
            "created_at": self._clock.now().isoformat(),
            "via": via or {"channel": "api"},
            "events": [{"id": self._id(), **e} if "id" not in e else e for e in events],
        }
        self._audits[ticket_id].append(audit)
        return audit

    def _told(self, ticket: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
        """The comment's event, and the email notification a public one sends."""
        events = [_comment_event(entry)]
        email = ticket["requester"].get("email")
        if entry["public"] and email:
            events.append({"type": "Notification", "recipients": [email], "body": entry["body"]})
        return events

    def _bounce(self, ticket: dict[str, Any], entry: dict[str, Any]) -> None:
        email = str(ticket["requester"].get("email") or "")
        reason = self._bouncing.get(email.lower())
        if not entry["public"] or reason is None:
            return
        failure = {
            "type": "Error",
            "message": f"Email to {email} could not be delivered: {reason}",
            "recipient": email,
            "comment_id": entry["id"],
        }
        self._audit(ticket["id"], [failure], channel="system", source={"rel": "delivery_failure"})
        self.control.ledger.record("ticket.bounced", str(ticket["id"]), data={"to": email})

    # -- HTTP -------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Zendesk sandbox", openapi_url=None)
        self.control.install(app)
        auth = [Depends(self._authenticate)]

        @app.post("/api/v2/tickets.json", dependencies=auth)
        async def create(request: Request) -> Response:
            ticket = self._create(_object(await json_body(request)))
            audit = ticket.pop("_audit")
            return JSONResponse({"ticket": ticket, "audit": audit}, status_code=201)

        @app.put("/api/v2/tickets/{ticket_id}.json", dependencies=auth)
        async def update(ticket_id: int, request: Request) -> dict[str, Any]:
            ticket = self._update(ticket_id, _object(await json_body(request)))
            return {"ticket": ticket, "audit": ticket.pop("_audit")}

        @app.get("/api/v2/tickets/{ticket_id}.json", dependencies=auth)
        async def get(ticket_id: int) -> dict[str, Any]:
            return {"ticket": self.ticket(ticket_id)}

        @app.get("/api/v2/tickets/{ticket_id}/comments.json", dependencies=auth)
        async def comments(ticket_id: int) -> dict[str, Any]:
            return {"comments": self.comments(ticket_id)}

        @app.get("/api/v2/tickets/{ticket_id}/audits.json", dependencies=auth)
        async def audits(ticket_id: int) -> dict[str, Any]:
            found = self.audits(ticket_id)
            return {"audits": found, "count": len(found), "next_page": None}

        @app.get("/api/v2/tickets.json", dependencies=auth)
        async def search(external_id: str | None = None) -> dict[str, Any]:
            with self._lock:
                found = [
                    _copy(t)
                    for t in self._tickets.values()
                    if external_id is None or t["external_id"] == external_id
                ]
            return {"tickets": found, "count": len(found), "next_page": None}

        return app

    def _authenticate(self, request: Request) -> None:
        if basic_credentials(request) != (f"{self.email}/token", self.api_token):
            raise ApiError(401, "unauthorized", "Couldn't authenticate you")

    def _ticket(self, ticket_id: int) -> dict[str, Any]:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise ApiError(404, "RecordNotFound", "Not found")
        return ticket

    def _id(self) -> int:
        self._next += 1
        return self._next


def _object(body: dict[str, Any] | None) -> dict[str, Any]:
    ticket = (body or {}).get("ticket")
    if not isinstance(ticket, dict):
        raise ApiError(400, "InvalidEndpoint", "The body must hold a ticket object")
    return ticket


def _status(value: Any) -> str:
    if value not in STATUSES:
        raise ApiError(422, "invalid", f"Status: {value} is not valid")
    return str(value)


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(422, "invalid", "Tags must be a list")
    return [str(tag).lower().replace(" ", "_") for tag in value]


def _comment_event(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "type": "Comment",
        "body": entry["body"],
        "public": entry["public"],
    }


def _copy(ticket: dict[str, Any]) -> dict[str, Any]:
    return {**ticket, "tags": list(ticket["tags"]), "requester": dict(ticket["requester"])}
