"""`orderops holds list|release`: the same services as the API. A release is done for a
named person whose role may approve actions; anyone else, another tenant's hold, or a
hold already released is refused with the reason and exit 1, and nothing is queued."""

from __future__ import annotations

import typer
from typer.testing import CliRunner, Result

from builders.access import Person, person
from builders.holds import hold_row, place_hold, release_rows, settle_message
from orderops.bootstrap import App
from orderops.commands import holds as holds_commands
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.writeback.states import OutboxStatus


def _run(app: App, *args: str) -> Result:
    cli = typer.Typer()
    holds_commands.register(cli, make_app=lambda: app)
    return CliRunner().invoke(cli, list(args))


def test_release_by_an_approver_queues_one_release_and_others_are_refused(
    app: App, clock: FixedClock, agent: Person, approver: Person
) -> None:
    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)
    viewer = person(app, clock, tenant="acme", role=Role.VIEWER, name="vic-viewer")
    outsider = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")

    listed = _run(app, "holds", "list", "--tenant", "acme", "--status", "active")
    as_viewer = _run(
        app, "holds", "release", placed.hold_id, "--tenant", "acme", "--as", viewer.user_id
    )
    as_agent = _run(
        app, "holds", "release", placed.hold_id, "--tenant", "acme", "--as", agent.user_id
    )
    from_globex = _run(
        app, "holds", "release", placed.hold_id, "--tenant", "globex", "--as", outsider.user_id
    )
    assert listed.exit_code == 0, listed.output
    assert placed.hold_id in listed.output
    assert (as_viewer.exit_code, as_agent.exit_code, from_globex.exit_code) == (1, 1, 1)
    assert "may not release holds" in as_viewer.output
    assert f"no hold {placed.hold_id}" in from_globex.output
    assert release_rows(app, "acme", placed.hold_id) == []

    released = _run(
        app, "holds", "release", placed.hold_id, "--tenant", "acme", "--as", approver.user_id
    )
    again = _run(
        app, "holds", "release", placed.hold_id, "--tenant", "acme", "--as", approver.user_id
    )

    assert released.exit_code == 0, released.output
    (release,) = release_rows(app, "acme", placed.hold_id)
    assert f"release {release.id} queued" in released.output
    hold = hold_row(app, "acme", placed.hold_id)
    assert (hold.release_reason, hold.released_by) == ("manual", approver.principal.identity)
    assert again.exit_code == 1
    assert "already released (manual)" in again.output
    assert len(release_rows(app, "acme", placed.hold_id)) == 1


def test_list_refuses_an_unknown_status(app: App) -> None:
    answer = _run(app, "holds", "list", "--tenant", "acme", "--status", "bogus")

    assert answer.exit_code == 2
    assert "unknown status 'bogus'" in answer.output
