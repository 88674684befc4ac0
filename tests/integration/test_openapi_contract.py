"""The API does what its OpenAPI document says, for generated valid and invalid requests,
whoever asks.

Schemathesis generates requests for every operation of ``/openapi.json`` (valid ones and
ones that break the schema) and sends them to the real app on a real database holding a
case in each of two regions. It asks with a key of every role, and with an administrator's
key narrowed to one region (the scope guard then filters every read). Every answer must be
documented: no server error, no undocumented status (a refused role's 403 included), the
documented content type, a body matching its schema.

Examples are bounded and derandomised, so a run is quick and repeatable. The
administrator, who reaches every handler, is sent both modes; every other asker is sent
the same valid requests, each generated once and sent as each of them (see
``OTHER_EXAMPLES`` for why that loses nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from builders.access import person
from builders.app_routes import app_routes, permission_of
from builders.scopes import placed_case
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role, allows
from orderops.domain.scopes import ScopeValues, parse
from orderops.tenancy.access_scopes import set_key_scope

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = 4
"""Per operation and generation mode, for the administrator, who reaches every handler."""
OTHER_EXAMPLES = 2
"""Valid requests per operation for every other asker. An invalid request is refused by
FastAPI's validation, which does not look at who asks (the administrator's run covers it);
a role the operation refuses is refused by its auth dependency (``api/auth.require``),
which FastAPI solves before it validates the parameters, so it answers 403 whatever
valid request it gets and is sent only the first."""

OTHER_ASKERS: dict[str, tuple[Role, str | None]] = {
    **{role.value: (role, None) for role in Role if role is not Role.ADMIN},
    "admin key limited to region DE": (Role.ADMIN, "region=DE"),
}
"""A key of every other role, and an administrator's key narrowed below its user (the
scope guard then filters every read)."""


def _seeded(app: App, clock: FixedClock) -> None:
    """A case in the scoped key's region and one outside it, so lists have rows."""
    for region in ("DE", "FR"):
        placed_case(app, clock, ScopeValues(region=region, brand="acme"))


def _key(app: App, clock: FixedClock, role: Role, scope: str | None) -> dict[str, str]:
    who = person(app, clock, tenant="acme", role=role, name=f"contract-{role}-{scope}")
    if scope is not None:
        assert who.principal.key_id is not None
        set_key_scope(
            app.sessions,
            tenant_id="acme",
            key_id=who.principal.key_id,
            scope=parse([scope]),
            actor="test",
            clock=clock,
        )
    return who.headers


def _run(examples: int, strategy: Any, send: Any) -> str | None:
    """Send ``examples`` generated cases; the failures, or None (or no case exists)."""

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def conforms(case: Any) -> None:
        send(case)

    try:
        conforms()
    except Unsatisfiable:  # no invalid request exists (an operation without inputs)
        return None
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
        return str(exc)[:2000]
    return None


def _to_each(
    askers: dict[str, tuple[Role, dict[str, str]]],
    refused: set[str],
    sent: dict[str, dict[str, int]],
) -> Callable[[Any], None]:
    """Send one generated case as every asker; an asker the operation refuses, once."""
    first = True

    def send(case: Any) -> None:
        nonlocal first
        for name, (_, headers) in askers.items():
            if name in refused and not first:
                continue
            sent[name]["refused" if name in refused else "allowed"] += 1
            case.call_and_validate(headers=headers, checks=CHECKS)
        first = False

    return send


def test_every_operation_answers_as_the_openapi_document_says(app: App, clock: FixedClock) -> None:
    _seeded(app, clock)
    headers = _key(app, clock, Role.ADMIN, None)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app))
    failures: dict[str, str] = {}
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in GenerationMode:
            failed = _run(
                EXAMPLES_PER_MODE,
                operation.as_strategy(generation_mode=mode),
                lambda case: case.call_and_validate(headers=headers, checks=CHECKS),
            )
            if failed:
                failures[f"{operation.label} ({mode.value})"] = failed

    assert operations > 50
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())


def test_every_role_and_a_scoped_key_get_only_documented_answers(
    app: App, clock: FixedClock
) -> None:
    _seeded(app, clock)
    askers = {
        name: (role, _key(app, clock, role, scope)) for name, (role, scope) in OTHER_ASKERS.items()
    }
    permissions = {(method, path): permission_of(route) for method, path, route in app_routes()}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app))
    failures: dict[str, str] = {}
    sent: dict[str, dict[str, int]] = {name: {"refused": 0, "allowed": 0} for name in askers}

    for result in schema.get_all_operations():
        operation = result.ok()
        permission = permissions[(operation.method.upper(), operation.path)]
        refused = {
            n for n, (role, _) in askers.items() if permission and not allows(role, permission)
        }
        failed = _run(
            OTHER_EXAMPLES,
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            _to_each(askers, refused, sent),
        )
        if failed:
            failures[operation.label] = failed

    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
    # every asker reached handlers, and every asker but the scoped administrator was refused
    assert {name: counts["allowed"] > 50 for name, counts in sent.items()} == dict.fromkeys(
        sent, True
    )
    assert {name for name, counts in sent.items() if counts["refused"] == 0} == {
        "admin key limited to region DE"
    }


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_the_document_states_the_conventions_every_operation_follows(app: App) -> None:
    document = create_app(app).openapi()
    operations = _operations(document)
    keyed_posts = [
        path
        for method, path, op in operations
        if method == "post" and op.get("security") and not path.startswith("/v1/webhooks/")
    ]
    without_key = [
        path
        for method, path, op in operations
        if path in keyed_posts
        and method == "post"
        and "Idempotency-Key" not in [p["name"] for p in op.get("parameters", [])]
    ]
    untyped_errors = [
        f"{method} {path} {code}"
        for method, path, op in operations
        for code, answer in op["responses"].items()
        if code[0] in "45"
        and answer.get("content", {}).get("application/problem+json", {}).get("schema")
        != {"$ref": "#/components/schemas/Problem"}
    ]
    keyed_gets = [
        (path, op)
        for method, path, op in operations
        if method == "get" and op.get("security") and path.startswith("/v1/")
    ]
    events_body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    one_event = events_body["application/json"]["schema"]["oneOf"][0]

    assert len(keyed_posts) > 40
    assert without_key == []
    assert untyped_errors == []
    assert all("304" in op["responses"] for _, op in keyed_gets)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert one_event["discriminator"]["propertyName"] == "type"
    assert "#/components/schemas/OrderPlacedEvent" in [s["$ref"] for s in one_event["oneOf"]]
    assert events_body["application/json"]["examples"]
