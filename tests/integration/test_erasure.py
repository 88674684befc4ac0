"""`orderops customers erase`: a data subject's personal data leaves every table, their
neighbours' stays, the audit chain still verifies (and still catches tampering), a legal
hold refuses it, and a second run changes nothing more."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import update
from typer.testing import CliRunner

from builders.database_roles import owner_sessions
from builders.erasure import ANA, BEA, mentions, values_of, with_history
from builders.writeback import make_case
from orderops.audit.chain import redaction_marker
from orderops.audit.export import ExportFilter, export_audit, verify_export
from orderops.audit.keys import audit_key_from
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.commands.erasure import register
from orderops.domain.clock import FixedClock
from orderops.domain.errors import NotFound
from orderops.evidence.service import default_store
from orderops.storage.tables import AuditRecord, Customer, CustomerErasure, SupportTicket
from orderops.workflow.erasure import LegalHold, erase_customer


def erase(app: App, clock: FixedClock, **subject: str) -> object:
    return erase_customer(
        app.sessions,
        tenant_id="acme",
        actor="dpo:maria",
        reason="art. 17 request, ticket 4411",
        clock=clock,
        evidence=default_store(app.settings),
        **subject,
    )


def test_erasure_removes_the_subject_from_every_table_and_keeps_the_others(
    app: App, clock: FixedClock
) -> None:
    ana = with_history(app, clock, ANA)
    with_history(app, clock, BEA)
    assert len(mentions(app, ANA.needles)) > 10, "the history names Ana in many places"

    report = erase_customer(
        app.sessions,
        tenant_id="acme",
        actor="dpo:maria",
        reason=f"request from {ANA.email}",
        clock=clock,
        email=ANA.email,
        evidence=default_store(app.settings),
    )

    assert mentions(app, ANA.needles) == []
    assert report.customer_ids == [ana.customer_id]
    bea_left = mentions(app, [BEA.email, BEA.name, BEA.street])
    assert {"customers.email", "inbox.envelope", "support_tickets.body"} <= set(bea_left)
    assert {"webhook_deliveries.body", "dead_letters.body", "audit_log.data"} <= set(bea_left)
    assert values_of(app, Customer, Customer.tier, id=ana.customer_id) == ["standard"]
    with pytest.raises(NotFound):
        default_store(app.settings).get("acme", ana.blob)
    assert report.counts["evidence_blobs"] == 1
    assert report.counts["customers.email,phone,name,address"] == 1


def test_the_audit_chain_verifies_after_erasure_and_records_it_without_the_data(
    app: App, clock: FixedClock
) -> None:
    ana = with_history(app, clock, ANA)

    report = erase(app, clock, customer_id=ana.customer_id)

    assert verify_tenant(app.sessions, tenant_id="acme").ok
    assert report.redacted_audit_seqs, "the record naming Ana was redacted"
    erased = values_of(app, AuditRecord, AuditRecord.data, seq=report.audit_seq)[0]
    assert erased["redacted_seqs"] == report.redacted_audit_seqs
    assert erased["reason"] == "art. 17 request, ticket 4411"
    assert erased["customers"] == [ana.customer_id]
    actor = values_of(app, AuditRecord, AuditRecord.actor, seq=report.audit_seq)
    assert actor == ["dpo:maria"]
    for seq in report.redacted_audit_seqs:
        assert values_of(app, AuditRecord, AuditRecord.data, seq=seq) == [
            redaction_marker(report.audit_seq)
        ]
    rows = values_of(app, CustomerErasure, CustomerErasure.counts, customer_id=ana.customer_id)
    assert rows
    assert rows[0]["evidence_blobs"] == 1


def test_tampering_after_erasure_is_still_caught(app: App, clock: FixedClock) -> None:
    ana = with_history(app, clock, ANA)
    with_history(app, clock, BEA)
    report = erase(app, clock, customer_id=ana.customer_id)
    bea_seq = max(
        seq
        for seq, data in _audit(app)
        if data.get("email") == BEA.email  # the record naming Bea
    )

    _set_audit_data(app, bea_seq, redaction_marker(report.audit_seq))  # hide Bea's record

    result = verify_tenant(app.sessions, tenant_id="acme")
    assert not result.ok
    assert result.problem == (
        f"record {bea_seq} was redacted but record {report.audit_seq} did not erase it"
    )


def test_editing_a_redacted_payload_back_in_is_caught(app: App, clock: FixedClock) -> None:
    ana = with_history(app, clock, ANA)
    report = erase(app, clock, customer_id=ana.customer_id)
    seq = report.redacted_audit_seqs[0]

    _set_audit_data(app, seq, {"email": "someone.else@example.com"})

    result = verify_tenant(app.sessions, tenant_id="acme")
    assert (result.ok, result.bad_seq) == (False, seq)


def test_an_export_after_erasure_verifies_offline_and_a_forged_redaction_does_not(
    app: App, clock: FixedClock
) -> None:
    ana = with_history(app, clock, ANA)
    with_history(app, clock, BEA)
    report = erase(app, clock, customer_id=ana.customer_id)
    out = io.StringIO()
    export_audit(app.sessions, tenant_id="acme", where=ExportFilter(), out=out, now=clock.now())
    lines = out.getvalue().splitlines()
    key = audit_key_from(app.settings)

    clean = verify_export(lines, key=key)
    forged = [_redacted_line(line, BEA.email, report.audit_seq) for line in lines]
    caught = verify_export(forged, key=key)

    assert clean.ok, clean.problem
    assert ANA.email not in out.getvalue()
    assert not caught.ok
    assert "did not erase it" in (caught.problem or "")


def _redacted_line(line: str, email: str, by_seq: object) -> str:
    item = json.loads(line)
    if item.get("kind") == "record" and item["data"].get("email") == email:
        item["data"] = {"redacted_by": by_seq}
    return json.dumps(item)


def test_a_second_erasure_changes_nothing_more(app: App, clock: FixedClock) -> None:
    ana = with_history(app, clock, ANA)
    erase(app, clock, customer_id=ana.customer_id)
    before = mentions(app, [BEA.email, "[erased]"])

    again = erase(app, clock, customer_id=ana.customer_id)
    by_email = erase(app, clock, email=ANA.email)

    assert again.counts == {}
    assert by_email.counts == {}
    assert mentions(app, [BEA.email, "[erased]"]) == before
    assert verify_tenant(app.sessions, tenant_id="acme").ok
    assert len(values_of(app, CustomerErasure, CustomerErasure.id)) == 3, "each request recorded"


def test_an_open_fraud_case_is_a_legal_hold_and_nothing_changes(
    app: App, clock: FixedClock
) -> None:
    ana = with_history(app, clock, ANA)
    make_case(
        app,
        clock,
        order_ref="ana-fraud",
        customer_id=ana.customer_id,
        exception_type="fraud_review",
        status="triaged",
    )

    with pytest.raises(LegalHold, match="fraud_review"):
        erase(app, clock, customer_id=ana.customer_id)

    assert values_of(app, Customer, Customer.email, id=ana.customer_id) == [ANA.email]
    assert values_of(app, CustomerErasure, CustomerErasure.id) == []


def test_a_dry_run_reports_and_changes_nothing(app: App, clock: FixedClock) -> None:
    ana = with_history(app, clock, ANA)
    before = mentions(app, ANA.needles)

    report = erase_customer(
        app.sessions,
        tenant_id="acme",
        actor="dpo",
        reason="check",
        clock=clock,
        customer_id=ana.customer_id,
        dry_run=True,
    )

    assert report.counts["customers.email,phone,name,address"] == 1
    assert mentions(app, ANA.needles) == before
    assert values_of(app, SupportTicket, SupportTicket.customer_email) == [ANA.email]


def test_the_cli_erases_refuses_a_hold_and_wants_one_subject(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    ana = with_history(app, clock, ANA)
    bea = with_history(app, clock, BEA)
    make_case(
        app, clock, order_ref="bea-x", customer_id=bea.customer_id, exception_type="refund_pending"
    )
    cli = typer.Typer()
    register(cli, app_factory=lambda: app)
    runner = CliRunner()
    base = ["customers", "erase", "--tenant", "acme", "--reason", "art. 17"]

    done = runner.invoke(cli, [*base, "--email", ANA.email, "--json"])
    held = runner.invoke(cli, [*base, "--customer", bea.customer_id])
    neither = runner.invoke(cli, base)

    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["customer_ids"] == [ana.customer_id]
    assert mentions(app, ANA.needles) == []
    assert held.exit_code == 1
    assert "legal hold" in held.output
    assert "refund_pending" in held.output
    assert neither.exit_code == 2


def _audit(app: App) -> list[tuple[int, dict[str, object]]]:
    with owner_sessions(app)() as session:
        return [
            (r.seq, r.data)
            for r in session.query(AuditRecord).filter(AuditRecord.tenant_id == "acme")
        ]


def _set_audit_data(app: App, seq: int, data: dict[str, object]) -> None:
    with owner_sessions(app)() as session:
        session.execute(
            update(AuditRecord)
            .where(AuditRecord.tenant_id == "acme", AuditRecord.seq == seq)
            .values(data=data)
        )
        session.commit()
