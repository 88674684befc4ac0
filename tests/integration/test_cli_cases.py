"""`orderops cases list|show`: the queue and one case from a terminal, on both databases.

The list filters as the API does (status, type, queue, priority); ``--json`` is one JSON
document; ``show`` prints the case's facts, proposed actions and timeline, and another
tenant's case is not found.
"""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner, Result

from builders.case_work import open_payment_case
from orderops.bootstrap import App
from orderops.commands import cases
from orderops.commands.errors import CleanErrors
from orderops.domain.clock import FixedClock


def _run(app: App, *args: str) -> Result:
    shell = typer.Typer(cls=CleanErrors)
    cases.register(shell, make_app=lambda: app)
    return CliRunner().invoke(shell, list(args), env={"COLUMNS": "250"})


def test_list_shows_the_tenants_cases_and_filters_them(app: App, clock: FixedClock) -> None:
    case_id = open_payment_case(app, clock, "o-100")
    open_payment_case(app, clock, "o-200", tenant_id="globex")

    listed = _run(app, "cases", "list", "--tenant", "acme", "--json")
    by_type = _run(app, "cases", "list", "-t", "acme", "--type", "payment_failed", "--json")
    other_type = _run(app, "cases", "list", "-t", "acme", "--type", "shipment_late", "--json")
    closed = _run(app, "cases", "list", "-t", "acme", "--status", "resolved", "--json")
    table = _run(app, "cases", "list", "--tenant", "acme")

    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["items"]
    assert [(c["id"], c["order_ref"], c["exception_type"]) for c in items] == [
        (case_id, "o-100", "payment_failed")
    ]
    assert items[0]["status"] == "new"
    assert [c["id"] for c in json.loads(by_type.stdout)["items"]] == [case_id]
    assert json.loads(other_type.stdout)["items"] == []
    assert json.loads(closed.stdout)["items"] == []
    assert table.exit_code == 0
    assert case_id in table.stdout
    assert "o-200" not in table.stdout


def test_list_refuses_a_filter_value_that_cannot_match(app: App) -> None:
    answer = _run(app, "cases", "list", "--tenant", "acme", "--status", "open")

    assert answer.exit_code == 2
    assert "unknown value 'open'" in answer.output
    assert "triaged" in answer.output


def test_list_filters_by_queue_and_priority(app: App, clock: FixedClock) -> None:
    case_id = open_payment_case(app, clock, "o-100")
    (case,) = json.loads(_run(app, "cases", "list", "-t", "acme", "--json").stdout)["items"]

    same = _run(app, "cases", "list", "-t", "acme", "--priority", case["priority"], "--json")
    other_priority = "P1" if case["priority"] != "P1" else "P4"
    different = _run(app, "cases", "list", "-t", "acme", "--priority", other_priority, "--json")
    no_queue = _run(app, "cases", "list", "-t", "acme", "--queue", "no-such-queue", "--json")

    assert [c["id"] for c in json.loads(same.stdout)["items"]] == [case_id]
    assert json.loads(different.stdout)["items"] == []
    assert json.loads(no_queue.stdout)["items"] == []


def test_show_prints_facts_actions_and_timeline(app: App, clock: FixedClock) -> None:
    case_id = open_payment_case(app, clock, "o-100")

    as_json = _run(app, "cases", "show", "--tenant", "acme", case_id, "--json")
    as_text = _run(app, "cases", "show", "--tenant", "acme", case_id)
    from_globex = _run(app, "cases", "show", "--tenant", "globex", case_id)

    assert as_json.exit_code == 0, as_json.output
    detail = json.loads(as_json.stdout)
    assert (detail["id"], detail["order_ref"]) == (case_id, "o-100")
    assert detail["facts"], detail
    assert isinstance(detail["actions"], list)
    assert "opened" in [entry["kind"] for entry in detail["timeline"]]
    assert as_text.exit_code == 0, as_text.output
    for heading in ("facts", "actions", "timeline"):
        assert heading in as_text.stdout
    assert from_globex.exit_code == 1
    assert f"no case {case_id} for tenant globex" in from_globex.output
