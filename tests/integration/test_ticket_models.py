"""A tenant's own ticket classifier: the classes its people gave tickets (a helpdesk export
through `orderops models labels`) train a candidate on the earlier tickets, scored on the
later ones beside the shipped default and the keyword baseline; evaluated in shadow,
promoted, and from then on the projector classifies that tenant's tickets with it, while
other tenants keep the shipped default. A class a person set is never overwritten."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner, Result

from builders.events import envelope
from orderops.bootstrap import App
from orderops.commands import models as models_commands
from orderops.commands.errors import CleanErrors
from orderops.detect import model_registry as registry
from orderops.detect.ticket_classes import shipped_ticket_classifier, ticket_classifier_for
from orderops.domain.clock import FixedClock
from orderops.domain.model_lifecycle import ModelKind, ModelStatus
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.batch import ingest_items

# A store whose customers write in its own words: the shipped seed has never seen them.
PHRASES = {
    "where_is_my_order": [
        "Tracker frozen on 'label printed' for parcel {n}, when does it move?",
        "Courier app shows nothing for box {n}, still waiting at home",
        "Parcel {n} stuck in the hub again, any news on delivery day?",
    ],
    "damaged": [
        "Box {n} came crushed, the lamp base is cracked in two",
        "Glass shade shattered inside parcel {n}, shards everywhere",
        "Parcel {n} arrived soaked and the frame is bent",
    ],
    "wrong_item": [
        "Parcel {n} had a blue rug, I bought the grey one",
        "Got somebody else's cushions in box {n}, not my sofa cover",
        "Box {n} holds size S slippers, my order said L",
    ],
    "refund_request": [
        "Please put the money for box {n} back on my card",
        "I sent parcel {n} back two weeks ago, where is my money",
        "Want my payment returned for order {n}, keep the item",
    ],
}


def tickets_of(start: datetime, count: int) -> list[tuple[str, str, str, datetime]]:
    """(ref, class, text, opened) for ``count`` tickets an hour apart, classes in turn."""
    out = []
    classes = sorted(PHRASES)
    for n in range(count):
        cls = classes[n % len(classes)]
        text = PHRASES[cls][(n // len(classes)) % 3].format(n=1000 + n)
        out.append((f"t-{n}", cls, text, start + timedelta(hours=n)))
    return out


def ticket_event(ref: str, text: str, at: datetime) -> dict[str, Any]:
    data = {"ticket_ref": ref, "source": "zendesk", "subject": text, "status": "open"}
    return envelope("ticket.updated", data, at=at, source="zendesk")


def ingest(app: App, clock: FixedClock, tenant: str, items: list[dict[str, Any]]) -> None:
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="t", clock=clock)
    assert report.rejected == [], [r.reason for r in report.rejected]


def run(app: App, *args: str) -> Result:
    cli = typer.Typer(cls=CleanErrors)
    models_commands.register(cli, app_factory=lambda: app)
    return CliRunner().invoke(cli, ["models", *args])


def stored(app: App, tenant: str, ref: str) -> tuple[str | None, str | None]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        row = uow.commerce.ticket("zendesk", ref)
        assert row is not None
        return row.ticket_class, row.ticket_class_model


def label_file(
    tmp_path: Path, rows: list[tuple[str, str]], header: str = "ticket_ref,class"
) -> Path:
    path = tmp_path / "labels.csv"
    path.write_text(header + "\n" + "".join(f"{r},{c}\n" for r, c in rows), encoding="utf-8")
    return path


@pytest.fixture
def labelled(app: App, clock: FixedClock, tmp_path: Path) -> list[tuple[str, str, str, datetime]]:
    """60 acme tickets over the last 60 hours, every one labelled by the store's people."""
    made = tickets_of(clock.now() - timedelta(hours=61), 60)
    ingest(app, clock, "acme", [ticket_event(r, t, at) for r, _, t, at in made])
    answer = run(
        app, "labels", "-t", "acme", str(label_file(tmp_path, [(r, c) for r, c, _, _ in made]))
    )
    assert answer.exit_code == 0, answer.output
    assert "60 tickets labelled" in answer.output
    return made


def test_a_tenant_trains_evaluates_and_promotes_its_own_ticket_classifier(
    app: App, clock: FixedClock, labelled: list[tuple[str, str, str, datetime]]
) -> None:
    trained = run(app, "train", "-t", "acme", "--kind", "ticket_class", "--actor", "ana")
    assert trained.exit_code == 0, trained.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (candidate,) = registry.list_versions(uow.session, "acme", ModelKind.TICKET_CLASS)
    assert candidate.status == ModelStatus.CANDIDATE
    assert (candidate.training["train_tickets"], candidate.training["test_tickets"]) == (42, 18)
    assert set(candidate.metrics) == {"ticket_model", "shipped_default", "keyword_baseline"}
    # earned on the 18 later tickets it never saw, in the store's own words
    ours, shipped = (candidate.metrics[k]["macro_f1"] for k in ("ticket_model", "shipped_default"))
    assert ours > shipped

    refused = run(app, "promote", "-t", "acme", "--kind", "ticket_class")
    assert refused.exit_code == 2
    assert "has not been scored beside the model in force" in refused.output

    shadow = run(app, "evaluate", "-t", "acme", "--kind", "ticket_class", "--json")
    assert shadow.exit_code == 0, shadow.output
    assert '"tickets": 18' in shadow.output
    promoted = run(app, "promote", "-t", "acme", "--kind", "ticket_class", "--actor", "bo")
    assert promoted.exit_code == 0, promoted.output

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert ticket_classifier_for(uow.session, "acme").card.version == (candidate.model_version)
        actions = list(
            uow.session.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.action.in_(["tickets.labelled", "model.promoted"])
                )
            )
        )
    assert sorted(actions) == ["model.promoted", "tickets.labelled"]

    # the next ticket in: classified by the tenant's model, in the store's words
    ingest(
        app,
        clock,
        "acme",
        [ticket_event("new-1", "Courier app shows nothing for box 77", clock.now())],
    )
    assert stored(app, "acme", "new-1") == ("where_is_my_order", candidate.model_version)


def test_another_tenant_keeps_the_shipped_default(
    app: App, clock: FixedClock, labelled: list[tuple[str, str, str, datetime]]
) -> None:
    assert run(app, "train", "-t", "acme", "--kind", "ticket_class").exit_code == 0
    assert run(app, "evaluate", "-t", "acme", "--kind", "ticket_class").exit_code == 0
    assert run(app, "promote", "-t", "acme", "--kind", "ticket_class").exit_code == 0
    ensure_tenant(app.sessions, tenant_id="globex", name="Globex", clock=clock)

    ingest(app, clock, "globex", [ticket_event("g-1", "where is my order?", clock.now())])

    assert stored(app, "globex", "g-1")[1] == shipped_ticket_classifier().card.version
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        assert ticket_classifier_for(uow.session, "globex") is shipped_ticket_classifier()


def test_a_class_a_person_set_survives_a_new_message_on_the_ticket(
    app: App, clock: FixedClock, labelled: list[tuple[str, str, str, datetime]]
) -> None:
    ref, cls, _, _ = labelled[0]
    ingest(app, clock, "acme", [ticket_event(ref, "Any update? Please cancel it all", clock.now())])

    assert stored(app, "acme", ref) == (cls, "reviewer")


def test_labels_for_tickets_the_tenant_does_not_have_change_nothing(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    ensure_tenant(app.sessions, tenant_id="globex", name="Globex", clock=clock)
    ingest(app, clock, "globex", [ticket_event("g-1", "where is my order?", clock.now())])

    answer = run(app, "labels", "-t", "acme", str(label_file(tmp_path, [("g-1", "damaged")])))

    assert answer.exit_code == 0, answer.output
    assert "0 tickets labelled" in answer.output
    assert "1 refs the tenant has no ticket" in answer.output
    assert stored(app, "globex", "g-1") == (
        "where_is_my_order",
        shipped_ticket_classifier().card.version,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ticket_ref,class\nt-1,furious\n", "line 2: class 'furious' is not one of"),
        (b"ticket,label\nt-1,damaged\n", "the header needs ticket_ref and class"),
        (b"ticket_ref,class\n,damaged\n", "line 2: ticket_ref must be 1-200 characters"),
        (b"ticket_ref,class\n", "the label file has no rows"),
        (b"ticket_ref,class\nt-1,\xff\xfe\n", "not UTF-8"),
        (b"ticket_ref,class\n" + b"t-1,damaged\n" * 900_000, "over 10 MB"),
    ],
)
def test_a_bad_label_file_is_one_line_exit_2_and_labels_nothing(
    app: App, clock: FixedClock, tmp_path: Path, content: bytes, message: str
) -> None:
    ingest(app, clock, "acme", [ticket_event("t-1", "where is my order?", clock.now())])
    path = tmp_path / "labels.csv"
    path.write_bytes(content)

    answer = run(app, "labels", "-t", "acme", str(path))

    assert answer.exit_code == 2, answer.output
    assert message in answer.output
    assert "Traceback" not in answer.output
    assert stored(app, "acme", "t-1")[1] != "reviewer"
