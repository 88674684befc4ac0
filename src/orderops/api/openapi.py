"""The OpenAPI document, completed with the problem+json answers each operation can give.

Routes declare their own success answers and the errors peculiar to them (``responses=``
with ``problem_responses``). The errors that follow from how a route is built are added
here, from the operation itself, so a new route cannot forget them: a bearer key means
401/403 and 429 (every keyed request is held to the key's and the tenant's rate limits,
``api/rate_limits.py``; the answer names its headers), a path parameter 404, any
parameter or body 422, a JSON body 400 (the safe reader's refusals), ``If-Match``
400/409/428, a changing method 409, an ``Idempotency-Key`` 400/409/422. Every 4xx/5xx is
described as problem+json, since that is what the handlers in ``problems`` send.

Also added here, from how the app is built rather than by each route: the
``X-Request-ID`` response header on every answer (``telemetry/requests.py``), the
``RateLimit`` headers on every answer to a keyed request past its key check, examples for
the models without their own (``api/openapi_examples.py``), the
``Idempotency-Key`` header on every keyed POST (``api/idempotency.py``), the component
schemas of the canonical event envelope (``api/event_schemas.py``), and the removal of
FastAPI's default validation-error schemas, which no answer uses (a 422 is problem+json).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from orderops.api import etags, event_schemas, idempotency
from orderops.api.openapi_examples import complete_examples
from orderops.api.problems import (
    PROBLEM_DESCRIPTIONS,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA_REF,
    Problem,
)
from orderops.api.rate_limits import RATE_LIMITED
from orderops.telemetry.requests import HEADER as REQUEST_ID

PROBLEM_EXAMPLE: dict[str, Any] = {
    "type": "https://orderops.dev/problems/stale-etag",
    "title": "StaleResource",
    "status": 412,
    "detail": "If-Match is not the current state: read it again",
    "request_id": "5f0c6c1e8f364d8a9d0e2b7c1c8b9a41",
}
CHANGING_METHODS = frozenset({"post", "put", "patch", "delete"})
IMPLIED_ANSWERS: dict[int, dict[str, Any]] = {429: RATE_LIMITED}
"""Implied statuses whose answer says more than the problem's description (its headers)."""


def install(api: FastAPI) -> None:
    """Make ``api.openapi()`` answer the completed document (built once, then cached)."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = complete(build())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension


FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def complete(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = {**Problem.model_json_schema(), "examples": [PROBLEM_EXAMPLE]}
    _, envelopes = event_schemas.envelope_schemas()
    for name, schema in envelopes.items():
        if schemas.setdefault(name, schema) != schema:
            raise RuntimeError(f"two different component schemas are named {name}")
    for path, path_item in document.get("paths", {}).items():
        for method, operation in path_item.items():
            if method == "post" and takes_idempotency_key(path, operation):
                operation.setdefault("parameters", []).append(idempotency.header_parameter())
            if method == "get" and operation.get("security") and path.startswith(etags.PREFIX):
                _conditional(operation)
            if method in CHANGING_METHODS or method in ("get", "head", "options"):
                _complete_operation(method, operation)
    for name in FASTAPI_VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}" not in str(document["paths"]):
            schemas.pop(name, None)
    complete_examples(schemas)
    return document


def takes_idempotency_key(path: str, operation: dict[str, Any]) -> bool:
    """A keyed POST: ``api/auth.require`` claims its key (webhooks dedupe by event id)."""
    return bool(operation.get("security")) and not path.startswith(idempotency.SKIPPED_PREFIXES)


def implied_statuses(method: str, operation: dict[str, Any]) -> set[int]:
    params = operation.get("parameters", [])
    body = operation.get("requestBody")
    statuses: set[int] = set()
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if any(p["in"] == "path" for p in params):
        statuses.add(404)
    if params or body:
        statuses.add(422)
    if body and any("json" in media for media in body.get("content", {})):
        statuses.add(400)
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in params):
        statuses |= {400, 409, 412, 428}
    if method in CHANGING_METHODS and operation.get("security"):
        statuses.add(409)
    if any(p["in"] == "header" and p["name"] == idempotency.HEADER for p in params):
        statuses |= {400, 409, 422}
    return statuses


IF_NONE_MATCH: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag of an earlier answer: 304 with no body if the answer is unchanged.",
    "schema": {"type": "string"},
}
RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": RATE_LIMITED["headers"]["RateLimit-Policy"],
    "RateLimit": RATE_LIMITED["headers"]["RateLimit"],
}
"""On every answer to a request held to limits: a keyed one past its key's check."""
REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id: yours if you sent a plain token as X-Request-ID, else "
    "a new one; on every answer, and as `request_id` in every problem. Quote it to support.",
    "schema": {"type": "string", "maxLength": 128},
}


def _conditional(operation: dict[str, Any]) -> None:
    """A keyed GET: If-None-Match in, ETag out, 304 when unchanged (``api/etags.py``)."""
    operation.setdefault("parameters", []).append(dict(IF_NONE_MATCH))
    responses = operation.setdefault("responses", {})
    etag = {
        "description": "Of this answer's body (weak), or the resource's own",
        "schema": {"type": "string"},
    }
    for code, response in responses.items():
        if code == "200":
            response.setdefault("headers", {})["ETag"] = etag
    responses.setdefault(
        "304",
        {
            "description": "Not modified: If-None-Match names this answer's ETag",
            "headers": {"ETag": etag},
        },
    )


def _complete_operation(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in implied_statuses(method, operation):
        answer = IMPLIED_ANSWERS.get(status, {"description": PROBLEM_DESCRIPTIONS[status]})
        responses.setdefault(str(status), dict(answer))  # a copy: content is added below
    for code, response in responses.items():
        if code[0] in "45":
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
        headers = {**response.get("headers", {}), REQUEST_ID: dict(REQUEST_ID_HEADER)}
        if operation.get("security") and code != "401":  # api/rate_limits.py: a held request
            headers = {**RATE_LIMIT_HEADERS, **headers}
        response["headers"] = headers  # a new dict: implied answers share theirs
