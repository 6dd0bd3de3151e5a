"""The one error envelope of every HTTP service: `{"error": {"code", "message", "details"}}`.

Every way a request can fail ends here: our own ApiError, FastAPI's validation errors, Starlette's HTTP
errors (unknown route, wrong method, a body that does not parse, e.g. JSON nested too deep) and, as a last
resort, an unhandled exception (500, counted by http_metrics, never echoing the exception to the client)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("interarec.http")

# Stable machine-readable codes for errors raised by the framework rather than by our handlers.
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 406: "not_acceptable", 413: "body_too_large",
                415: "unsupported_media_type", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
                503: "unavailable"}
MAX_DETAILS = 20


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no recommendation for session 'abc'"])
    details: list[str] = Field(default_factory=list, description="per-field or per-event problems, when any")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(HTTPException):
    """An answer in the envelope. An HTTPException, so FastAPI re-raises it unchanged even from inside its own
    body parsing (a body limit tripped while the body is read)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: list[str] | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)
        self.status, self.code, self.message = status, code, message
        self.details = details or []


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   details: list[str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def error_code(exc: StarletteHTTPException) -> str:
    return exc.code if isinstance(exc, ApiError) else STATUS_CODES.get(exc.status_code, "error")


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers, exc.details)
    return error_response(exc.status_code, error_code(exc), str(exc.detail), getattr(exc, "headers", None))


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return http_error_response(exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
               for e in exc.errors()][:MAX_DETAILS]
    return error_response(422, "invalid_request", "the request does not match the API schema", details=details)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # The type only: messages can carry request data (screenshots are personal data, never logged).
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; it has been counted")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)


def error_responses(*codes: int, text: dict[int, str] | None = None) -> dict:
    """OpenAPI `responses=` for the envelope at these statuses (429 documents Retry-After)."""
    default = {400: "Bad request", 401: "Missing, unknown or expired credentials", 403: "Not allowed here",
               404: "Not found", 413: "Body too large", 415: "Unsupported media type", 422: "Invalid input",
               429: "Rate limit reached; see Retry-After", 503: "A dependency is unavailable"}
    text = {**default, **(text or {})}
    out = {c: {"model": ErrorBody, "description": text[c]} for c in codes}
    if 429 in codes:
        out[429]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return out
