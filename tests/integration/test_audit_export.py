"""`orderops audit export`: JSON lines for a case, a tenant or a window, that verify alone."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import orderops.storage.tables.queues  # noqa: F401  (the case-work tables)
from builders.case_work import open_payment_case
from builders.database_roles import owner_sessions
from orderops.audit.export import verify_export
from orderops.audit.keys import audit_key_from
from orderops.bootstrap import App, bootstrap
from orderops.cases.routing import route_case
from orderops.commands import audit_export
from orderops.decide.transitions import resolve, triage
from orderops.domain.clock import FixedClock
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork


@pytest.fixture
def two_cases(app: App, clock: FixedClock) -> tuple[str, str]:
    """Case one opened, routed, triaged; an hour later case two opened and case one resolved."""
    first = open_payment_case(app, clock, "o-1")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(first)
        assert case is not None
        route_case(uow, case, now=clock.now())
        triage(uow, case, actor="al", now=clock.now())
        uow.commit()
    clock.advance(timedelta(hours=1))
    second = open_payment_case(app, clock, "o-2")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(first)
        assert case is not None
        resolve(uow, case, actor="al", now=clock.now(), reason="paid by phone")
        uow.commit()
    return first, second


def run_export(app: App, tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], Path]:
    root, audit = typer.Typer(), typer.Typer()
    root.add_typer(audit, name="audit")
    audit_export.register(audit, app_factory=lambda: bootstrap(app.settings, clock=app.clock))
    out = tmp_path / "export.jsonl"
    result = CliRunner().invoke(
        root, ["audit", "export", "--tenant", "acme", "--out", str(out), *args]
    )
    lines = (
        [json.loads(line) for line in out.read_text("utf-8").splitlines()] if out.exists() else []
    )
    return result.exit_code, lines, out


def records(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["kind"] == "record"]


def test_a_case_export_holds_its_records_and_verifies(
    app: App, tmp_path: Path, two_cases: tuple[str, str]
) -> None:
    first, _ = two_cases

    code, lines, out = run_export(app, tmp_path, "--case", first)

    exported = records(lines)
    assert code == 0
    assert lines[0]["kind"] == "header"
    assert (lines[0]["case"], lines[0]["chain"]["verified"]) == (first, True)
    assert lines[-1] == {"kind": "trailer", "records": len(exported)}
    assert {r["entity_id"] for r in exported} == {first}
    actions = [r["action"] for r in exported]
    assert actions[0] == "case.opened"
    assert {"case.routed", "case.triaged", "case.resolved"} <= set(actions)
    assert [r["seq"] for r in exported] == sorted(r["seq"] for r in exported)
    assert verify_export(out.read_text("utf-8").splitlines(), key=audit_key_from(app.settings)).ok


def test_a_window_export_holds_only_records_inside_it(
    app: App, clock: FixedClock, tmp_path: Path, two_cases: tuple[str, str]
) -> None:
    first, second = two_cases
    since = (clock.now() - timedelta(minutes=30)).replace(tzinfo=None).isoformat()

    code, lines, out = run_export(app, tmp_path, "--since", since)

    exported = records(lines)
    assert code == 0
    assert exported
    assert {r["entity_id"] for r in exported} == {first, second}
    assert all(r["at"] >= clock.now().isoformat(timespec="microseconds") for r in exported)
    assert "case.triaged" not in {r["action"] for r in exported}  # before the window
    assert verify_export(out.read_text("utf-8").splitlines(), key=audit_key_from(app.settings)).ok


def test_a_whole_tenant_export_verifies_and_names_its_head(
    app: App, tmp_path: Path, two_cases: tuple[str, str]
) -> None:
    code, lines, _ = run_export(app, tmp_path)

    exported = records(lines)
    assert code == 0
    assert [r["seq"] for r in exported] == list(range(1, len(exported) + 1))
    assert lines[0]["chain"]["head_seq"] == len(exported)
    assert lines[0]["chain"]["head_hash"] == exported[-1]["hash"]


@pytest.mark.parametrize(
    ("damage", "whole", "complaint"),
    [
        ("edit", True, "does not match its hash"),
        ("edit", False, "does not match its hash"),
        ("drop", True, "are missing"),
        ("drop", False, "trailer says"),
        ("truncate", True, "truncated"),
        ("swap", False, "out of order"),
    ],
)
def test_an_altered_export_file_fails_verification(
    app: App,
    tmp_path: Path,
    two_cases: tuple[str, str],
    damage: str,
    whole: bool,
    complaint: str,
) -> None:
    _, _, out = run_export(app, tmp_path, *([] if whole else ["--case", two_cases[0]]))
    lines = out.read_text("utf-8").splitlines()
    middle = len(lines) // 2
    if damage == "edit":
        record = json.loads(lines[middle])
        record["actor"] = "someone else"
        lines[middle] = json.dumps(record)
    elif damage == "drop":
        del lines[middle]
    elif damage == "truncate":
        lines = lines[:-1]
    else:
        lines[middle], lines[middle + 1] = lines[middle + 1], lines[middle]
    out.write_text("\n".join(lines) + "\n", "utf-8")

    root, audit = typer.Typer(), typer.Typer()
    root.add_typer(audit, name="audit")
    audit_export.register(audit, settings_factory=lambda: app.settings)
    result = CliRunner().invoke(root, ["audit", "verify-export", str(out)])
    check = verify_export(lines, key=audit_key_from(app.settings))

    assert check.ok is False
    assert complaint in (check.problem or "")
    assert result.exit_code == 1


def test_an_export_of_a_tampered_database_says_so_and_fails(
    app: App, tmp_path: Path, two_cases: tuple[str, str]
) -> None:
    with owner_sessions(app)() as session:
        row = session.query(AuditRecord).filter_by(tenant_id="acme", seq=3).one()
        row.actor = "forger"
        session.commit()

    code, lines, _ = run_export(app, tmp_path)

    assert code == 1
    assert lines[0]["chain"]["verified"] is False
    assert "hash" in lines[0]["chain"]["problem"]
