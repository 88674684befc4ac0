"""The API does what its OpenAPI document says, for generated valid and invalid requests.

Schemathesis generates requests for every operation of ``/openapi.json`` (valid ones and
ones that break the schema) and sends them to the real app on a real database with an
admin key of a seeded tenant. Every answer must be documented: no server error, no
undocumented status, the documented content type, a body matching its schema.
Examples are bounded and derandomised, so a run is quick and repeatable.
"""

from __future__ import annotations

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

from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.workflow.tenants import issue_key

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = 6


def test_every_operation_answers_as_the_openapi_document_says(app: App, clock: FixedClock) -> None:
    admin = issue_key(app.sessions, tenant_id="acme", name="contract", role=Role.ADMIN, clock=clock)
    headers = {"Authorization": f"Bearer {admin.secret}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app))
    failures: dict[str, str] = {}
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in GenerationMode:

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def conforms(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                conforms()
            except Unsatisfiable:  # no invalid request exists (an operation without inputs)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]

    assert operations > 50
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
