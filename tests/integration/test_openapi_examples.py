"""What the OpenAPI document promises an integrator beyond the shapes: an example on every
model (each valid against its own schema), the X-Request-ID header on every answer, the
rate-limit headers on keyed answers, the next-page Link on cursor listings and the ETag on
the resources whose changes take If-Match.

The document does not depend on the database, so it is built once, on SQLite."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from conftest import T0
from orderops.api.app import create_app
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock

WITHOUT_EXAMPLES: set[str] = set()
"""Object schemas allowed to have no example (none today). A new model whose fields the
generator (``api/openapi_examples.py``) cannot give a valid value must bring its own."""

CURSOR_LISTINGS = [
    "/v1/cases",
    "/v1/incidents",
    "/v1/outbox",
    "/v1/link-suggestions",
    "/v1/actions",
    "/v1/holds",
]
TAGGED = [
    ("get", "/v1/actions/{action_id}"),
    ("post", "/v1/actions/{action_id}/approve"),
    ("post", "/v1/actions/{action_id}/reject"),
    ("get", "/v1/holds/{hold_id}"),
    ("post", "/v1/holds/{hold_id}/release"),
]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("openapi")
    shutil.copyfile(sqlite_template, home / "orderops.db")
    settings = Settings(
        database_url=f"sqlite:///{home / 'orderops.db'}", data_dir=home, demo_mode=True
    )
    app = bootstrap(settings, clock=FixedClock(T0))
    try:
        return create_app(app).openapi()
    finally:
        app.close()


def _objects(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = document["components"]["schemas"]
    return {name: schema for name, schema in schemas.items() if "properties" in schema}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_model_shows_an_example_but_the_few_allowed(document: dict[str, Any]) -> None:
    objects = _objects(document)

    without = {name for name, schema in objects.items() if not schema.get("examples")}

    assert without <= WITHOUT_EXAMPLES, f"models without an example: {sorted(without)}"
    assert len(objects) > 100  # the document's models, not an empty list


def test_every_example_is_valid_against_its_own_schema(document: dict[str, Any]) -> None:
    invalid = {}
    for name, schema in _objects(document).items():
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": document["components"]}
        )
        for example in schema.get("examples", []):
            errors = [str(e).splitlines()[0] for e in validator.iter_errors(example)]
            if errors:
                invalid[name] = errors

    assert invalid == {}


def test_hand_written_request_examples_are_kept(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    assert schemas["ProposeRequest"]["examples"][0]["kind"] == "refund"
    assert schemas["LinkBody"]["examples"][0]["record_ref"] == "zendesk:4711"
    assert schemas["Problem"]["examples"][0]["status"] == 412


def test_every_answer_documents_its_request_id(document: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path} {code}"
        for method, path, operation in _operations(document)
        for code, response in operation["responses"].items()
        if "X-Request-ID" not in response.get("headers", {})
    ]

    assert missing == []


def test_keyed_answers_document_the_rate_limit_headers(document: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path} {code}"
        for method, path, operation in _operations(document)
        if operation.get("security")
        for code, response in operation["responses"].items()
        if code != "401" and not {"RateLimit", "RateLimit-Policy"} <= set(response["headers"])
    ]

    assert missing == []


@pytest.mark.parametrize("path", CURSOR_LISTINGS)
def test_cursor_listings_document_the_cursor_and_the_next_link(
    document: dict[str, Any], path: str
) -> None:
    operation = document["paths"][path]["get"]

    assert "cursor" in [p["name"] for p in operation["parameters"]]
    assert "400" in operation["responses"]  # a cursor this server did not issue
    if path != "/v1/cases":  # the case list names it in its schema's description
        assert "Link" in operation["responses"]["200"]["headers"]


@pytest.mark.parametrize(("method", "path"), TAGGED)
def test_actions_and_holds_document_their_etag_and_if_match(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = document["paths"][path][method]

    assert "ETag" in operation["responses"]["200"]["headers"]
    if method == "post":
        assert "If-Match" in [p["name"] for p in operation["parameters"]]
        assert "412" in operation["responses"]
