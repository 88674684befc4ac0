"""Cross-site request forgery on every state-changing console form.

The forms are enumerated from the app (every POST under /console), so a new form without a
row here fails ``test_every_console_form_is_classified``. Each form is posted four ways by
a signed-in administrator: without the CSRF token, with another session's token, with its
own token but from another site (an ``Origin`` of another host; a browser's
``Sec-Fetch-Site: cross-site``), and as the page posts it. The first four answer 403 and
change nothing (the tenant's audit chain, which every change extends, stays as it was);
the last is accepted and, for a form that changes something, extends the chain (the
second-factor forms, whose success needs a code, are shown to reach the code check).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.access import Person, late_case, person
from builders.app_routes import app_routes
from builders.backtests import CANDIDATE, request_body
from builders.choices import choice_case, make_offer
from builders.console import ConsolePerson, console_person, csrf_of, signed_in
from builders.links import suggested_ticket, ticket
from builders.shadow import lower_fraud_threshold, proposed_candidate, start_candidate
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.decide.policy_versions import read_version
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.vendor_connections import AccountMode, VendorSystem
from orderops.evidence.service import default_store
from orderops.storage.tables import AuditRecord, DeadLetter, OutboxMessage, SavedView
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.users import issue_user_key
from orderops.workflow.batch import ingest_items
from orderops.writeback import vendor_connections
from orderops.writeback.outbox import enqueue

_n = itertools.count(1)
Fields = dict[str, str]
Prepared = tuple[str, Fields]
EVIL = "https://evil.example"


@dataclass
class Desk:
    app: App
    clock: FixedClock
    me: TestClient
    """An administrator's signed-in browser: the one that posts every form."""
    other: TestClient
    """A second administrator's session, whose token must not work in the first."""
    maker: Person
    """Proposes what the administrator approves (maker-checker)."""

    def token(self, browser: TestClient | None = None) -> str:
        return csrf_of((browser or self.me).get("/console/queues").text)

    def case(self) -> str:
        return late_case(self.app, self.clock)

    def claimed_case(self) -> str:
        case_id = self.case()
        answer = self.me.post(f"/console/cases/{case_id}/claim", data={"csrf": self.token()})
        assert answer.status_code == 303
        return case_id

    def action(self) -> str:
        return propose(
            self.app.sessions,
            tenant_id="acme",
            case_id=self.case(),
            kind="release_fulfillment",
            params={"note": f"checked {next(_n)}"},
            principal=self.maker.principal,
            clock=self.clock,
            evidence=default_store(self.app.settings),
        ).id

    def recommended(self) -> tuple[str, str]:
        """A case and the id of a recommendation stored for it."""
        from orderops.recommend.service import recommend_case

        case_id = self.case()
        with UnitOfWork(self.app.sessions, tenant_id="acme") as uow:
            stored = recommend_case(uow, case_id, now=self.clock.now(), actor="test")
            uow.commit()
            return case_id, stored.recommendation.id

    def message(self) -> tuple[str, int]:
        answer = self.me.post(
            f"/v1/cases/{self.case()}/communications",
            json={"body": "Your parcel is on its way.", "subject": "Update"},
            headers=self.maker.headers,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"]), int(answer.json()["version"])

    def user(self) -> ConsolePerson:
        return console_person(self.app, self.clock, role=Role.VIEWER)

    def key(self) -> str:
        return issue_user_key(
            self.app.sessions,
            tenant_id="acme",
            user_id=self.user().user_id,
            name=f"spare-{next(_n)}",
            clock=self.clock,
            actor="test",
        ).key_id

    def link(self) -> str:
        ref = f"orphan-{next(_n)}"
        report = ingest_items(
            self.app.sessions,
            tenant_id="acme",
            items=[ticket(ref, at=self.clock.now() - timedelta(hours=1))],
            channel="test",
            clock=self.clock,
        )
        assert report.rejected == []
        order_ref = suggested_ticket(self.app, self.clock).order_a
        body = {
            "record_type": "ticket",
            "record_ref": f"zendesk:{ref}",
            "order_ref": order_ref,
            "reason": "the customer called about this order",
        }
        made = self.me.post("/v1/links", json=body, headers=self.maker.headers)
        assert made.status_code == 201, made.text
        return str(made.json()["link"]["id"])

    def vendor(self, system: str) -> str:
        """A vendor connection of the tenant for ``system`` (one per system)."""
        vendor_connections.add_connection(
            self.app.sessions,
            tenant_id="acme",
            system=VendorSystem(system),
            base_url=f"https://{system}.example.com",
            secret=f"{system}-secret-0123456789",
            mode=AccountMode.LIVE,
            secret_key=self.app.settings.secret_key,
            clock=self.clock,
            actor="test",
        )
        return system

    def policy_text(self) -> str:
        body = dict(read_version(self.app.sessions, tenant_id="acme").body)
        body["expiry_hours"] = int(body["expiry_hours"]) + next(_n)
        return str(yaml.safe_dump(body, sort_keys=False))


@dataclass(frozen=True)
class Form:
    path: str
    prepare: Callable[[Desk], Prepared]
    accepted: tuple[int, bool] = (303, True)
    """How the page's own post is answered: the status, and whether the audit chain grew
    (a change redirects back and is audited; a preview or a check answers its page)."""

    def __str__(self) -> str:
        return self.path


WRONG_CODE = (303, False)
"""A form whose success needs a one-time code the test cannot have: the page's own post
gets past the CSRF check to the code check, which sends the person back (no change)."""


def _message_edit(d: Desk) -> Prepared:
    message_id, version = d.message()
    return f"/console/messages/{message_id}/edit", {"body": "Edited.", "version": str(version)}


def _accept(d: Desk) -> Prepared:
    world = suggested_ticket(d.app, d.clock)
    return f"/console/links/suggestions/{world.suggestion_id}/accept", {
        "order_ref": world.order_a,
        "reason": "the number in the ticket",
    }


def _offer_to_withdraw(d: Desk) -> Prepared:
    """A case with an open choice offer (and its drafted message) to withdraw."""
    case_id = choice_case(d.app, d.clock)
    make_offer(d.app, d.clock, person(d.app, d.clock, tenant="acme", role=Role.AGENT), case_id)
    return (f"/console/cases/{case_id}/choice-offer/withdraw", {})


def _saved_view(d: Desk) -> Prepared:
    name = f"view {next(_n)}"
    saved = d.me.post(
        "/console/views",
        data={"csrf": d.token(), "name": name, "path": "/console/mine", "query": "sort=sla"},
    )
    assert saved.status_code == 303
    with UnitOfWork(d.app.sessions, tenant_id="acme", write=False) as uow:
        view_id = uow.session.scalar(select(SavedView.id).where(SavedView.name == name))
    return "/console/views/delete", {"view_id": str(view_id)}


def _outbox_row(d: Desk, status: str) -> str:
    with UnitOfWork(d.app.sessions, tenant_id="acme") as uow:
        message_id = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key=f"csrf-{next(_n)}",
            payload={},
            now=d.clock.now(),
        )
        row = uow.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        assert row is not None
        row.status = status
        uow.commit()
        return message_id


def _dead_letter(d: Desk) -> Prepared:
    with UnitOfWork(d.app.sessions, tenant_id="acme") as uow:
        letter = uow.dead_letters.add(
            DeadLetter(
                source="test://shop",
                channel="webhook",
                received_at=d.clock.now(),
                reason_code="json",
                reason="not JSON",
                body="{broken",
                body_bytes=7,
                status="open",
            )
        )
        uow.commit()
        return "/console/ops/dead-letters/replay", {"letter_id": letter.id}


FORMS = [
    Form(
        "/console/views",
        lambda d: ("/console/views", {"name": "mine", "path": "/console/mine", "query": ""}),
        accepted=(303, False),  # a person's own filters: not a decision, not audited
    ),
    Form("/console/views/delete", _saved_view, accepted=(303, False)),
    Form(
        "/console/bulk",
        lambda d: ("/console/bulk", {"op": "claim", "case": d.case()}),
        accepted=(200, True),  # answers with what was done and what was refused
    ),
    Form(
        "/console/ops/outbox/{message_id}/retry",
        lambda d: (f"/console/ops/outbox/{_outbox_row(d, 'failed')}/retry", {}),
    ),
    Form(
        "/console/ops/outbox/{message_id}/cancel",
        lambda d: (f"/console/ops/outbox/{_outbox_row(d, 'pending')}/cancel", {}),
    ),
    Form("/console/ops/dead-letters/replay", _dead_letter),  # a replay is audited, even failing
    Form("/console/cases/{case_id}/claim", lambda d: (f"/console/cases/{d.case()}/claim", {})),
    Form(
        "/console/cases/{case_id}/release",
        lambda d: (f"/console/cases/{d.claimed_case()}/release", {}),
    ),
    Form(
        "/console/cases/{case_id}/move",
        lambda d: (f"/console/cases/{d.case()}/move", {"move": "triage"}),
    ),
    Form(
        "/console/cases/{case_id}/actions",
        lambda d: (
            f"/console/cases/{d.case()}/actions",
            {"kind": "release_fulfillment", "f.note": "checked"},
        ),
    ),
    Form(
        "/console/cases/{case_id}/recommendations/{recommendation_id}/apply",
        lambda d: (
            "/console/cases/{}/recommendations/{}/apply".format(*d.recommended()),
            {},
        ),
    ),
    Form(
        "/console/actions/{action_id}/approve",
        lambda d: (f"/console/actions/{d.action()}/approve", {}),
    ),
    Form(
        "/console/actions/{action_id}/reject",
        lambda d: (f"/console/actions/{d.action()}/reject", {"reason": "not needed"}),
    ),
    Form(
        "/console/cases/{case_id}/recommend",
        lambda d: (f"/console/cases/{d.case()}/recommend", {}),
    ),
    Form(
        "/console/cases/{case_id}/choice-offer",
        lambda d: (f"/console/cases/{choice_case(d.app, d.clock)}/choice-offer", {}),
    ),
    Form("/console/cases/{case_id}/choice-offer/withdraw", _offer_to_withdraw),
    Form(
        "/console/cases/{case_id}/messages",
        lambda d: (f"/console/cases/{d.case()}/messages", {"body": "Hello", "subject": "Hi"}),
    ),
    Form("/console/messages/{message_id}/{step}", _message_edit),
    Form(
        "/console/admin/policy/preview",
        lambda d: ("/console/admin/policy/preview", {"policy": d.policy_text()}),
        accepted=(200, False),
    ),
    Form(
        "/console/admin/policy",
        lambda d: ("/console/admin/policy", {"policy": d.policy_text(), "note": "longer"}),
    ),
    Form(
        "/console/admin/users",
        lambda d: (
            "/console/admin/users",
            {"name": "New", "role": "agent", "email": f"new-{next(_n)}@acme.example"},
        ),
    ),
    Form(
        "/console/admin/users/{user_id}/disable",
        lambda d: (f"/console/admin/users/{d.user().user_id}/disable", {}),
    ),
    Form(
        "/console/admin/users/{user_id}/role",
        lambda d: (f"/console/admin/users/{d.user().user_id}/role", {"role": "agent"}),
    ),
    Form(
        "/console/admin/users/{user_id}/password",
        lambda d: (
            f"/console/admin/users/{d.user().user_id}/password",
            {"password": "another long passphrase"},
        ),
    ),
    Form(
        "/console/admin/users/{user_id}/keys",
        lambda d: (f"/console/admin/users/{d.user().user_id}/keys", {"name": "laptop"}),
        accepted=(200, True),
    ),
    Form(
        "/console/admin/keys/{key_id}/revoke",
        lambda d: (f"/console/admin/keys/{d.key()}/revoke", {}),
    ),
    Form(
        "/console/admin/keys",
        lambda d: ("/console/admin/keys", {"role": "service", "name": "feeder"}),
        accepted=(200, True),
    ),
    Form(
        "/console/admin/keys/{key_id}/rotate",
        lambda d: (f"/console/admin/keys/{d.key()}/rotate", {"overlap": "1h"}),
        accepted=(200, True),
    ),
    Form("/console/links/suggestions/{suggestion_id}/accept", _accept),
    Form(
        "/console/links/suggestions/{suggestion_id}/reject",
        lambda d: (
            f"/console/links/suggestions/{suggested_ticket(d.app, d.clock).suggestion_id}/reject",
            {"reason": "none of them"},
        ),
    ),
    Form(
        "/console/links/{link_id}/unlink",
        lambda d: (f"/console/links/{d.link()}/unlink", {"reason": "wrong order"}),
    ),
    Form("/console/audit/verify", lambda d: ("/console/audit/verify", {}), accepted=(200, False)),
    Form(
        "/console/account/totp/setup",
        lambda d: ("/console/account/totp/setup", {}),
        accepted=(200, False),  # shows the new secret; nothing is kept until enabled
    ),
    Form(
        "/console/account/totp/enable",
        lambda d: ("/console/account/totp/enable", {"pending": "none", "code": "000000"}),
        accepted=WRONG_CODE,
    ),
    Form(
        "/console/account/totp/disable",
        lambda d: ("/console/account/totp/disable", {"password": "wrong", "code": "000000"}),
        accepted=(401, False),  # past the CSRF check, the wrong password is refused
    ),
    Form(
        "/console/admin/connections",
        lambda d: (
            "/console/admin/connections",
            {
                "system": "crm",
                "mode": "live",
                "base_url": "https://crm.example.com",
                "secret": "crm-secret-0123456789",
            },
        ),
    ),
    Form(
        "/console/admin/connections/{system}/rotate",
        lambda d: (
            f"/console/admin/connections/{d.vendor('wms')}/rotate",
            {"secret": "wms-rotated-0123456789"},
        ),
    ),
    Form(
        "/console/admin/connections/{system}/remove",
        lambda d: (f"/console/admin/connections/{d.vendor('easypost')}/remove", {}),
    ),
    Form(
        "/console/shadow/promote",
        lambda d: (
            "/console/shadow/promote",
            {"_": start_candidate(d.app, d.clock, lower_fraud_threshold()).id},
        ),
    ),
    Form(
        "/console/shadow/approve",
        lambda d: (
            "/console/shadow/approve",
            {"_": proposed_candidate(d.app, d.clock, proposer=d.maker.principal.identity).id},
        ),
    ),
    Form(  # queued, audited; a worker runs it
        "/console/backtests",
        lambda d: (
            "/console/backtests",
            {
                "from": request_body(d.clock)["from"],
                "to": request_body(d.clock)["to"],
                "candidate": CANDIDATE,
            },
        ),
    ),
]

SEPARATELY = {
    "/console/login": "test_the_sign_in_form_refuses_a_cross_site_post",
    "/console/logout": "test_signing_out_needs_this_sessions_token_from_this_site",
}


def _console_posts() -> set[str]:
    """Every state-changing route under /console."""
    return {
        path
        for method, path, _ in app_routes()
        if path.startswith("/console") and method in {"POST", "PUT", "PATCH", "DELETE"}
    }


def test_every_console_form_is_classified() -> None:
    classified = [f.path for f in FORMS] + list(SEPARATELY)

    assert len(classified) == len(set(classified))
    assert set(classified) == _console_posts()


@pytest.fixture
def desk(app: App, clock: FixedClock) -> Iterator[Desk]:
    me = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    other = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    maker = person(app, clock, tenant="acme", role=Role.AGENT, name="maker")
    with me, other:
        yield Desk(app, clock, me, other, maker)


def _chain_length(app: App) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


def _attempts(d: Desk) -> dict[str, Callable[[str, Fields], Any]]:
    mine, theirs = d.token(), d.token(d.other)
    return {
        "no token": lambda path, fields: d.me.post(path, data=fields),
        "another session's token": lambda path, fields: d.me.post(
            path, data={**fields, "csrf": theirs}
        ),
        "cross-site Origin": lambda path, fields: d.me.post(
            path, data={**fields, "csrf": mine}, headers={"Origin": EVIL}
        ),
        "cross-site fetch": lambda path, fields: d.me.post(
            path,
            data={**fields, "csrf": mine},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        ),
    }


def test_every_form_refuses_a_forged_post_and_accepts_the_pages_own(desk: Desk) -> None:
    refused: dict[tuple[str, str], int] = {}
    unchanged: dict[str, bool] = {}
    accepted: dict[str, tuple[int, bool]] = {}
    for form in FORMS:
        path, fields = form.prepare(desk)
        before = _chain_length(desk.app)
        for label, attempt in _attempts(desk).items():
            refused[(str(form), label)] = attempt(path, fields).status_code
        unchanged[str(form)] = _chain_length(desk.app) == before

        answer = desk.me.post(
            path,
            data={**fields, "csrf": desk.token()},
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        )
        accepted[str(form)] = (answer.status_code, _chain_length(desk.app) > before)

    assert refused == {key: 403 for key in refused}
    assert unchanged == {str(form): True for form in FORMS}
    assert accepted == {str(form): form.accepted for form in FORMS}


def test_the_sign_in_form_refuses_a_cross_site_post(app: App, clock: FixedClock) -> None:
    who = console_person(app, clock, role=Role.AGENT)
    with TestClient(create_app(app), follow_redirects=False) as browser:
        fields = {"tenant": "acme", "email": who.email, "password": "correct horse battery"}

        def fresh() -> str:
            return csrf_of(browser.get("/console/login").text)

        untokened = browser.post("/console/login", data=fields)
        cross_site = browser.post(
            "/console/login", data={**fields, "csrf": fresh()}, headers={"Origin": EVIL}
        )
        signed = browser.post(
            "/console/login",
            data={**fields, "csrf": fresh()},
            headers={"Origin": "http://testserver"},
        )

    assert (untokened.status_code, cross_site.status_code) == (403, 403)
    assert "oo_session" not in cross_site.cookies
    assert signed.status_code == 303
    assert "oo_session" in signed.cookies


def test_signing_out_needs_this_sessions_token_from_this_site(desk: Desk) -> None:
    attempts = _attempts(desk)

    refused = {
        label: attempt("/console/logout", {}).status_code for label, attempt in attempts.items()
    }
    still_in = desk.me.get("/console/queues").status_code
    out = desk.me.post("/console/logout", data={"csrf": desk.token()})
    after = desk.me.get("/console/queues")

    assert refused == {label: 403 for label in attempts}
    assert still_in == 200
    assert out.status_code == 303
    assert after.status_code == 303
    assert after.headers["location"].startswith("/console/login")
