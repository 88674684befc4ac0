"""RFC 9457 problem+json for every error, mapped from the domain's error hierarchy."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orderops.domain import errors

PROBLEM_TYPE_BASE = "https://orderops.dev/problems/"

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
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def status_for(exc: errors.OrderOpsError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.OrderOpsError)
    async def _domain(_request: Request, exc: errors.OrderOpsError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        response = problem(status, exc.code, type(exc).__name__, exc.message)
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
        return problem(
            exc.status_code, "http-" + str(exc.status_code), "HTTP error", str(exc.detail)
        )
