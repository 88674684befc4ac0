"""RFC 9457 problem+json for every error, mapped from the domain's error hierarchy."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from orderops.domain import errors

PROBLEM_TYPE_BASE = "https://orderops.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"

STATUS_BY_ERROR: dict[type[errors.OrderOpsError], int] = {
    errors.PayloadTooLarge: 413,
    errors.MalformedPayload: 400,
    errors.InvalidEvent: 422,
    errors.DuplicateEvent: 409,
    errors.NotFound: 404,
    errors.IllegalTransition: 409,
    errors.CaseAlreadyOpen: 409,
    errors.Conflict: 409,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.ConfigurationError: 500,
}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def status_for(exc: errors.OrderOpsError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.OrderOpsError)
    async def _domain(request: Request, exc: errors.OrderOpsError) -> JSONResponse:
        status = status_for(exc)
        if status == 409 and exc.code.startswith("stale-") and "if-match" in request.headers:
            status = 412  # the precondition the caller sent failed (RFC 9110 13.1.1)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        extra = getattr(exc, "extensions", {})  # e.g. the earlier remedies of a 409
        response = problem(status, exc.code, type(exc).__name__, exc.message, **extra)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            "the request has invalid fields",
            errors=fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or "http-" + str(exc.status_code)
        response = problem(
            exc.status_code, code, HTTPStatus(exc.status_code).phrase, str(exc.detail)
        )
        if exc.headers:  # e.g. the Allow header of a 405
            response.headers.update(exc.headers)
        return response


class Problem(BaseModel):
    """An RFC 9457 problem: every error answer of the API has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem; stable for clients.")
    title: str
    status: int
    detail: str


PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Unreadable request: a body the JSON reader refuses, or a malformed header",
    401: "Missing or unknown bearer API key",
    403: "The caller's role does not allow this",
    404: "No such resource in the caller's tenant",
    405: "Method not allowed on this path (the Allow header lists those that are)",
    409: "Conflicts with the current state (stale version, decision already taken)",
    413: "Body over the size limit",
    412: "If-Match names a version the resource is no longer at: read it again",
    415: "Unsupported content type",
    422: "Invalid request fields or an unacceptable payload",
    428: "The change needs the version you saw (If-Match or a version field)",
    429: "Too many requests",
    500: "Internal error",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries declaring problem+json answers for ``statuses``."""
    return {
        status: {
            "description": PROBLEM_DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        for status in statuses
    }
