"""The reviewer's doors to customer choices besides the API: the console's button and offer
page, and `orderops choices offer|list`. Each is held to the same rules as the API: people
who work cases, cases in the caller's own tenant, case types the policy offers choices on."""

from __future__ import annotations

import re

import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from builders.access import Person, person
from builders.choices import choice_case, keys, page_path, token_of
from builders.console import console_person, csrf_of, signed_in
from orderops.bootstrap import App
from orderops.commands import choices as choices_commands
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.workflow.choices import list_offers

BUTTON = "Offer the customer a choice"
LINK = re.compile(r"aria-label=\"The customer's link\" value=\"([^\"]+)\"")


def _run(app: App, *args: str) -> Result:
    cli = typer.Typer()
    choices_commands.register(cli, make_app=lambda: app)
    return CliRunner().invoke(cli, list(args))


def test_the_console_offers_from_the_case_page_and_shows_the_link(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    delay = choice_case(app, clock)
    late = choice_case(app, clock, exception_type=ExceptionType.SHIPMENT_LATE)
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))
    with agent:
        page = agent.get(f"/console/cases/{delay}")
        assert BUTTON in page.text
        assert BUTTON not in agent.get(f"/console/cases/{late}").text

        posted = agent.post(
            f"/console/cases/{delay}/choice-offer", data={"csrf": csrf_of(page.text)}
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == f"/console/cases/{delay}/choice-offer"
        shown = agent.get(posted.headers["location"])

    assert shown.status_code == 200
    (offer,) = list_offers(app.sessions, tenant_id="acme", case_id=delay)
    found = LINK.search(shown.text)
    assert found is not None
    url = found.group(1)
    assert "/choice/" in url
    assert keys(app).verify(token_of(url)).offer_id == offer.id
    assert http.get(page_path(token_of(url))).status_code == 200


def test_the_console_refuses_viewers_and_other_tenants_and_shows_no_link_without_an_offer(
    app: App, clock: FixedClock
) -> None:
    delay = choice_case(app, clock)
    theirs = choice_case(app, clock, tenant="globex")
    viewer = signed_in(app, console_person(app, clock, role=Role.VIEWER))
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))
    with viewer, agent:
        viewer_page = viewer.get(f"/console/cases/{delay}")
        assert BUTTON not in viewer_page.text
        agent_page = agent.get(f"/console/cases/{delay}").text
        not_yet = agent.get(f"/console/cases/{delay}/choice-offer")
        cross = agent.post(
            f"/console/cases/{theirs}/choice-offer", data={"csrf": csrf_of(agent_page)}
        )
        as_viewer = viewer.get(f"/console/cases/{delay}/choice-offer")

    assert not_yet.status_code == 200
    assert "No open offer" in not_yet.text
    assert LINK.search(not_yet.text) is None
    assert cross.status_code == 404
    assert as_viewer.status_code == 403
    assert list_offers(app.sessions, tenant_id="globex", case_id=theirs) == []


def test_the_cli_offers_as_a_named_person_and_lists_what_became_of_it(
    app: App, clock: FixedClock, agent: Person
) -> None:
    case_id = choice_case(app, clock)
    viewer = person(app, clock, tenant="acme", role=Role.VIEWER, name="vic-viewer")
    outsider = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")

    as_viewer = _run(app, "choices", "offer", case_id, "--tenant", "acme", "--as", viewer.user_id)
    from_globex = _run(
        app, "choices", "offer", case_id, "--tenant", "globex", "--as", outsider.user_id
    )
    offered = _run(app, "choices", "offer", case_id, "--tenant", "acme", "--as", agent.user_id)
    listed = _run(app, "choices", "list", case_id, "--tenant", "acme")

    assert (as_viewer.exit_code, from_globex.exit_code) == (1, 1)
    assert "may not offer customer choices" in as_viewer.output
    assert f"no case {case_id}" in from_globex.output
    assert offered.exit_code == 0, offered.output
    assert "wait: accept_delay 0" in offered.output
    url = offered.output.strip().splitlines()[-1]
    (offer,) = list_offers(app.sessions, tenant_id="acme", case_id=case_id)
    assert keys(app).verify(token_of(url)).offer_id == offer.id
    assert offer.created_by == agent.principal.identity
    assert listed.exit_code == 0
    assert f"{offer.id}  open  by {agent.principal.identity}" in listed.output
