"""The agents' tool API over streamable HTTP (the SDK's client against the API app at
/mcp, served by uvicorn): two tenants and three roles, nothing leaks, nothing approves,
money limits hold, a dry run changes nothing, rate limits answer, bad keys and malformed
arguments are refused clearly. The same tools over stdio: test_mcp_stdio.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from mcp.shared.exceptions import MCPError
from sqlalchemy import select

from builders.access import Person, key_for, late_case, person
from builders.database_roles import owner_sessions
from builders.mcp_clients import (
    ROLES,
    TENANTS,
    AgentWorld,
    agent_world,
    call,
    case_ids,
    money_limits,
    over_http,
    read,
    row_counts,
    run_served,
)
from builders.scopes import name_brands, placed_case, scoped_person
from orderops.agent_tools.server import TOOLS
from orderops.bootstrap import App
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.domain.rate_limits import Quota, RatePartition, RateScope
from orderops.domain.roles import Permission, Role, allows
from orderops.domain.scopes import ScopeValues, parse
from orderops.storage.tables import Action, Approval, AuditRecord, OutboxMessage
from orderops.tenancy.tenant_rate_limits import set_tenant_limit
from orderops.tenancy.users import revoke_key

NOT_ALLOWED = re.compile(r"approve|reject|release|execute|send|override", re.IGNORECASE)


@pytest.fixture
def world(app: App, clock: FixedClock) -> AgentWorld:
    return agent_world(app, clock)


def other(tenant: str) -> str:
    return TENANTS[1 - TENANTS.index(tenant)]


def test_the_tools_are_reads_proposals_and_drafts_and_none_approves(
    app: App, world: AgentWorld
) -> None:
    async def scenario(base: str) -> None:
        async with over_http(base, world.key("acme", Role.APPROVER).secret) as client:
            listed = await client.list_tools()
            templates = await client.list_resource_templates()
        names = sorted(t.name for t in listed.tools)
        assert names == sorted(TOOLS)
        assert [n for n in names if NOT_ALLOWED.search(n)] == []
        assert sorted(t.uri_template for t in templates.resource_templates) == [
            "orderops://playbooks/{version}",
            "orderops://policies/{name}",
        ]

    run_served(app, scenario)


def test_reads_leak_nothing_across_two_tenants_and_three_roles(app: App, world: AgentWorld) -> None:
    async def scenario(base: str) -> None:
        for tenant in TENANTS:
            theirs, mine = other(tenant), world.cases[tenant][0]
            foreign_case, foreign_ref = world.cases[theirs][0], world.order_refs[theirs]
            for role in ROLES:
                async with over_http(base, world.key(tenant, role).secret) as client:
                    own = await call(client, "get_case", case_id=mine)
                    assert own.ok, (tenant, role, own.error)
                    assert own.data["id"] == mine
                    listed = await call(client, "search_cases")
                    ids = {c["id"] for c in listed.data["cases"]}
                    assert ids == case_ids(app, tenant), (tenant, role)
                    for tool, argument, value, absent in (
                        ("get_case", "case_id", foreign_case, "0" * 32),
                        ("get_timeline", "case_id", foreign_case, "0" * 32),
                        ("explain_case", "case_id", foreign_case, "0" * 32),
                        ("get_order", "order_ref", foreign_ref, "o-none-1"),
                    ):
                        foreign = await call(client, tool, **{argument: value})
                        missing = await call(client, tool, **{argument: absent})
                        assert foreign.code == missing.code == "not-found", (tool, role)
                        assert foreign.message.replace(value, "X") == missing.message.replace(
                            absent, "X"
                        )
                    by_text = await call(client, "search_cases", text=foreign_ref)
                    assert by_text.data == {"cases": []}

    run_served(app, scenario)


def test_a_scoped_key_finds_a_case_outside_its_scope_as_missing(
    app: App, clock: FixedClock
) -> None:
    name_brands(app, clock)
    inside = placed_case(app, clock, ScopeValues(region="DE", brand="acme"))
    outside = placed_case(app, clock, ScopeValues(region="FR", brand="acme"))
    who = scoped_person(app, clock, role=Role.AGENT, scope=parse(["region=DE"]))

    async def scenario(base: str) -> None:
        async with over_http(base, who.secret) as client:
            seen = await call(client, "get_case", case_id=inside.case_id)
            hidden = await call(client, "get_case", case_id=outside.case_id)
            order = await call(client, "get_order", order_ref=outside.order_ref)
            listed = await call(client, "search_cases")
        assert seen.ok
        assert hidden.message == f"not-found: no case {outside.case_id}"
        assert order.message == f"not-found: no order {outside.order_ref}"
        assert inside.case_id in {c["id"] for c in listed.data["cases"]}
        assert {c["order_ref"] for c in listed.data["cases"]} == {inside.order_ref}

    run_served(app, scenario)


def test_each_role_may_use_exactly_the_tools_the_rest_permission_table_allows(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    for role in ROLES:
        money_limits(app, clock, world.key("acme", role), per_action=10_000, per_day=10_000)
    case_id = world.cases["acme"][0]
    needs = {
        "get_case": Permission.CASES_READ,
        "propose_action": Permission.ACTIONS_PROPOSE,
        "draft_message": Permission.CASES_WORK,
    }
    arguments: dict[str, dict[str, Any]] = {
        "get_case": {"case_id": case_id},
        "propose_action": {
            "case_id": case_id,
            "kind": "refund",
            "amount_minor": 3000,
            "reason": "late parcel",
            "dry_run": True,
        },
        "draft_message": {"case_id": case_id, "body": "Your parcel is late.", "dry_run": True},
    }

    async def scenario(base: str) -> None:
        for role in ROLES:
            async with over_http(base, world.key("acme", role).secret) as client:
                for tool, permission in needs.items():
                    answer = await call(client, tool, **arguments[tool])
                    expected = allows(role, permission)
                    assert answer.ok is expected, (role, tool, answer.error)
                    if not expected:
                        assert answer.code == "forbidden"

    run_served(app, scenario)


def test_a_proposal_waits_for_people_and_no_call_approves_anything(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    service = world.key("acme", Role.SERVICE)
    money_limits(app, clock, service, per_action=10_000, per_day=10_000)
    first, second = world.cases["acme"]

    async def scenario(base: str) -> None:
        async with over_http(base, service.secret) as client:
            waiting = await call(
                client,
                "propose_action",
                case_id=first,
                kind="refund",
                amount_minor=3000,
                reason="parcel ten days late",
            )
            small = await call(
                client,
                "propose_action",
                case_id=second,
                kind="refund",
                amount_minor=500,
                reason="small goodwill refund",
            )
        assert waiting.ok, waiting.error
        assert waiting.data["proposed"]["status"] == ActionStatus.AWAITING_APPROVAL
        assert waiting.data["approval_path"]["approver_classes"] == ["approver"]
        # The default policy approves a refund of 5.00 on its own; an agent's waits for a person.
        assert small.ok, small.error
        assert small.data["proposed"]["status"] == ActionStatus.AWAITING_APPROVAL
        assert small.data["approval_path"]["approver_classes"] == ["approver"]

    run_served(app, scenario)
    with owner_sessions(app)() as session:
        actions = session.scalars(select(Action).where(Action.tenant_id == "acme")).all()
        assert sorted((a.case_id, a.status, a.auto_rule) for a in actions) == sorted(
            [
                (first, ActionStatus.AWAITING_APPROVAL, None),
                (second, ActionStatus.AWAITING_APPROVAL, None),
            ]
        )
        assert session.scalars(select(Approval)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []


def test_money_limits_hold_per_action_and_per_day_and_a_key_without_limits_moves_nothing(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    service = world.key("acme", Role.SERVICE)
    lead = world.key("acme", Role.APPROVER)
    money_limits(app, clock, service, per_action=3500, per_day=5000)
    first, second = world.cases["acme"]
    third = late_case(app, clock, tenant="acme")
    small_order = late_case(
        app, clock, tenant="acme", total_minor=3000
    )  # 20.00 of it is no small refund

    async def scenario(base: str) -> None:
        async with over_http(base, service.secret) as client:
            over_action = await call(
                client,
                "propose_action",
                case_id=first,
                kind="refund",
                amount_minor=4000,
                reason="whole order late",
            )
            within = await call(
                client,
                "propose_action",
                case_id=first,
                kind="refund",
                amount_minor=3000,
                reason="parcel late",
            )
            over_day = await call(
                client,
                "propose_action",
                case_id=second,
                kind="refund",
                amount_minor=3000,
                reason="parcel late",
            )
            rest_of_day = await call(
                client,
                "propose_action",
                case_id=small_order,
                kind="refund",
                amount_minor=2000,
                reason="parcel late",
                dry_run=True,
            )
        async with over_http(base, lead.secret) as client:
            unlimited = await call(
                client,
                "propose_action",
                case_id=third,
                kind="refund",
                amount_minor=3000,
                reason="parcel late",
            )
            no_money = await call(
                client,
                "propose_action",
                case_id=third,
                kind="support_handoff",
                reason="needs a person",
                params={"note": "please call the customer"},
                dry_run=True,
            )
        assert over_action.code == "agent-money-limit"
        assert "3500 per action" in over_action.message
        assert within.ok
        assert within.data["money_limits"]["left_today_minor"] == 2000
        assert over_day.code == "agent-money-limit"
        assert "5000 per day" in over_day.message
        assert rest_of_day.ok, rest_of_day.error
        assert unlimited.code == "agent-money-limit"
        assert "no money limits" in unlimited.message
        assert no_money.code != "agent-money-limit"

    run_served(app, scenario)


def test_a_duplicate_proposal_is_refused_as_the_rest_api_refuses_it(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    service = world.key("acme", Role.SERVICE)
    money_limits(app, clock, service, per_action=10_000, per_day=10_000)
    case_id = world.cases["acme"][0]

    async def scenario(base: str) -> None:
        async with over_http(base, service.secret) as client:
            arguments = {
                "case_id": case_id,
                "kind": "refund",
                "amount_minor": 3000,
                "reason": "parcel late",
            }
            first = await call(client, "propose_action", **arguments)
            again = await call(client, "propose_action", **arguments)
            assert first.ok, first.error
            assert again.code == "remedy-pending"
            limits = await call(client, "propose_action", **arguments, dry_run=True)
            assert limits.code == "remedy-pending"

    run_served(app, scenario)
    with owner_sessions(app)() as session:
        assert len(session.scalars(select(Action)).all()) == 1


def test_a_dry_run_answers_the_approval_path_and_effects_and_changes_nothing(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    service = world.key("acme", Role.SERVICE)
    lead = world.key("acme", Role.APPROVER)
    money_limits(app, clock, service, per_action=10_000, per_day=10_000)
    case_id = world.cases["acme"][0]
    answers: dict[str, Any] = {}

    async def scenario(base: str) -> None:
        async with (
            over_http(base, service.secret) as client,
            over_http(base, lead.secret) as lead_client,
        ):
            # Each key's first use, before the count (it notes when the key was used).
            await call(client, "get_case", case_id=case_id)
            await call(lead_client, "get_case", case_id=case_id)
            before = row_counts(app)
            answers["proposal"] = await call(
                client,
                "propose_action",
                case_id=case_id,
                kind="refund",
                amount_minor=3000,
                reason="parcel late",
                dry_run=True,
            )
            answers["draft"] = await call(
                lead_client,
                "draft_message",
                case_id=case_id,
                body="Sorry, your parcel is late.",
                dry_run=True,
            )
            after = row_counts(app)
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        # Only the two calls' own audit records and usage counts (and a rate window
        # starting) may appear.
        assert set(changed) <= {"audit_log", "rate_limit_windows", "usage_counters"}, changed
        assert after["audit_log"] - before["audit_log"] == 2

    run_served(app, scenario)
    proposal, draft = answers["proposal"], answers["draft"]
    assert proposal.ok, proposal.error
    assert proposal.data["would_propose"]["status"] == ActionStatus.AWAITING_APPROVAL
    assert "id" not in proposal.data["would_propose"]
    path = proposal.data["approval_path"]
    assert path["policy_version"] == 0
    assert path["matched_rules"] == ["desk-approval"]
    assert set(path["roles"]["approver"]) >= {"approver", "admin"}
    assert [(e["system"], e["operation"]) for e in proposal.data["effects_on_approval"]] == [
        ("stripe", "refund")
    ]
    assert draft.ok
    assert draft.data["would_draft"]["id"] is None


def test_every_call_is_audited_with_the_agent_identity_refusals_too(
    app: App, world: AgentWorld
) -> None:
    viewer = world.key("acme", Role.VIEWER)
    case_id = world.cases["acme"][0]

    async def scenario(base: str) -> None:
        async with over_http(base, viewer.secret) as client:
            await call(client, "get_case", case_id=case_id)
            await call(client, "get_case", case_id=world.cases["globex"][0])
            await call(client, "draft_message", case_id=case_id, body="hello")

    run_served(app, scenario)
    with owner_sessions(app)() as session:
        records = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "agent.call").order_by(AuditRecord.seq)
        ).all()
    assert [(r.tenant_id, r.actor, r.data["tool"], r.data["outcome"]) for r in records] == [
        ("acme", viewer.principal.identity, "get_case", "ok"),
        ("acme", viewer.principal.identity, "get_case", "not-found"),
        ("acme", viewer.principal.identity, "draft_message", "forbidden"),
    ]
    assert records[2].data["arguments"] == {
        "case_id": case_id,
        "body_chars": 5,
        "subject": None,
        "channel": "email",
        "dry_run": False,
    }


def test_over_the_rate_limit_a_call_is_refused_with_when_to_retry(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    set_tenant_limit(
        app.sessions,
        tenant_id="acme",
        scope=RateScope.API,
        partition=RatePartition.KEY,
        quota=Quota(amount=2, seconds=3600),
        actor="test",
        clock=clock,
    )
    viewer = world.key("acme", Role.VIEWER)
    case_id = world.cases["acme"][0]

    async def scenario(base: str) -> None:
        async with over_http(base, viewer.secret) as client:
            answers = [await call(client, "get_case", case_id=case_id) for _ in range(3)]
        assert [a.ok for a in answers[:2]] == [True, True]
        assert answers[2].code == "rate-limited"
        assert "retry after" in answers[2].message

    run_served(app, scenario)


def test_forged_revoked_expired_and_other_environment_keys_are_refused_at_the_door(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    revoked = key_for(app, tenant_id="acme", name="gone", role=Role.SERVICE, clock=clock)
    revoke_key(app.sessions, tenant_id="acme", key_id=revoked.key_id, clock=clock, actor="test")
    expired = key_for(
        app,
        tenant_id="acme",
        name="old",
        role=Role.SERVICE,
        clock=clock,
        expires_at=clock.now() - timedelta(minutes=1),
    )
    live = world.key("acme", Role.SERVICE).secret
    other_environment = live.replace("oo_live_", "oo_test_", 1)
    keys = {
        "forged": "oo_live_abcd1234_" + "z" * 43,
        "revoked": revoked.secret,
        "expired": expired.secret,
        "other environment": other_environment,
        "none": None,
    }

    async def scenario(base: str) -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            for label, secret in keys.items():
                headers = {"Authorization": f"Bearer {secret}"} if secret else {}
                answer = await http.post(
                    f"{base}/mcp",
                    headers={**headers, "Accept": "application/json, text/event-stream"},
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                )
                assert answer.status_code == 401, label
                assert answer.headers["content-type"].startswith("application/problem+json")
        with pytest.raises(ExceptionGroup) as refused:  # the SDK's client, from its task group
            async with over_http(base, keys["revoked"]) as client:
                await client.list_tools()
        assert refused.group_contains(MCPError)

    run_served(app, scenario)


@pytest.mark.parametrize(
    ("tool", "arguments", "names"),
    [
        ("get_case", {"case_id": 7}, "case_id"),
        ("get_case", {}, "case_id"),
        ("get_case", {"case_id": "x" * 65}, "case_id"),
        ("get_order", {"order_ref": "a\x00b"}, "order_ref"),
        ("search_cases", {"status": ["nonsense"]}, "status"),
        ("search_cases", {"limit": 10_000}, "limit"),
        ("propose_action", {"case_id": "c", "kind": "launch_rocket", "reason": "why not"}, "kind"),
        (
            "propose_action",
            {"case_id": "c", "kind": "refund", "reason": "ok", "amount_minor": -5},
            "amount_minor",
        ),
        ("draft_message", {"case_id": "c", "body": "x" * 20_001}, "body"),
    ],
)
def test_malformed_arguments_are_refused_naming_the_argument(
    app: App, approver: Person, tool: str, arguments: dict[str, Any], names: str
) -> None:
    async def scenario(base: str) -> None:
        async with over_http(base, approver.secret) as client:
            answer = await call(client, tool, **arguments)
        assert not answer.ok
        assert names in (answer.error or "")

    run_served(app, scenario)


def test_bad_action_parameters_get_the_catalogue_s_refusal(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    service = world.key("acme", Role.SERVICE)
    money_limits(app, clock, service, per_action=100_000, per_day=100_000)
    case_id = world.cases["acme"][0]

    async def scenario(base: str) -> None:
        async with over_http(base, service.secret) as client:
            too_much = await call(
                client,
                "propose_action",
                case_id=case_id,
                kind="refund",
                amount_minor=90_000,
                reason="more than the order",
            )
            unknown = await call(
                client,
                "propose_action",
                case_id=case_id,
                kind="refund",
                amount_minor=100,
                reason="x" * 3,
                params={"bogus": 1},
            )
        assert not too_much.ok
        assert too_much.code != "agent-money-limit"
        assert not unknown.ok
        assert "bogus" in unknown.message

    run_served(app, scenario)


def test_resources_show_the_policies_and_playbook_read_only(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    """Each read needs what its REST read needs: the approval policy is an admin's."""
    admin = person(app, clock, tenant="globex", role=Role.ADMIN)

    async def scenario(base: str) -> None:
        async with over_http(base, world.key("globex", Role.VIEWER).secret) as client:
            hidden = await read(client, "orderops://policies/approval")
            routing = await read(client, "orderops://policies/routing")
            fulfillment = await read(client, "orderops://policies/fulfillment")
            playbook = await read(client, "orderops://playbooks/current")
            unknown = await read(client, "orderops://policies/secrets")
        async with over_http(base, admin.secret) as client:
            approval = await read(client, "orderops://policies/approval")
        assert hidden.error is not None
        assert "forbidden" in hidden.error
        assert approval.data["version"] == 0
        assert "refund" in approval.data["body"]["kinds"]
        assert routing.data["policy"] == "routing"
        assert fulfillment.data["policy"] == "fulfillment"
        assert playbook.data["version"] == 0
        assert playbook.data["playbook"]["types"]
        assert unknown.error is not None
        assert "not-found" in unknown.error

    run_served(app, scenario)
