"""Per-route request-body limits and authentication before the body is read.

FastAPI parses a declared body before it resolves any dependency, so without this a caller with no key
makes the service read and parse a body of any size before it answers 401. GuardedRoute (a router's
`route_class`) runs, in order, before any byte of the body is read:
1. the route's `before_body` dependencies (authentication, rate limit), which cache their answer on
   request.state so the normal dependency resolution reuses it instead of charging the rate limit twice;
2. the route's body limit: a declared Content-Length over it is refused at once, and a streamed (chunked)
   body is cut off with the same 413 as soon as it passes the limit.
The limit is `openapi_extra={"x-max-body-bytes": n}` (documented in the OpenAPI too), else the router's
default."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from services.common.http_errors import ApiError

DEFAULT_MAX_BODY_BYTES = 64 * 1024
LIMIT_KEY = "x-max-body-bytes"


def before_body(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Mark a dependency (callable as fn(request)) to run before the body is read."""
    fn.before_body = True  # type: ignore[attr-defined]
    return fn


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body over the {limit}-byte limit of this route")


def check_declared_length(declared: str | None, limit: int) -> None:
    """A declared Content-Length over the limit is refused before any byte of the body is read."""
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(400, "bad_request", "Content-Length must be a byte count")
        if int(declared) > limit:
            raise too_large(limit)


def limited_receive(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receive_within_limit() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
        return message

    return receive_within_limit


class GuardedRoute(APIRoute):
    default_max_body_bytes = DEFAULT_MAX_BODY_BYTES

    @property
    def max_body_bytes(self) -> int:
        return int((self.openapi_extra or {}).get(LIMIT_KEY, self.default_max_body_bytes))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:  # a 405 needs no credentials
            await super().handle(scope, receive, send)
            return
        request = Request(scope, receive)
        for dep in self.dependant.dependencies:
            if getattr(dep.call, "before_body", False):
                await dep.call(request)
        limit = self.max_body_bytes
        check_declared_length(request.headers.get("content-length"), limit)
        await super().handle(scope, limited_receive(receive, limit), send)

