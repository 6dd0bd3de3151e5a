"""What the gateway's routes share: the app's state (Context), the caller (an API key, or a browser session
token for exactly the session in the path) with its rate limits and the pipeline's back-pressure, checked
before any byte of the body is read (admit), and the per-outcome frame counter every refusal is counted in."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import metrics
from services.common.delivery import Producer
from services.common.http_errors import ApiError, http_error_handler, http_error_response
from services.common.ratelimit import RateLimiter, retry_after_header
from services.gateway.admission import FairSlots
from services.gateway.auth import Caller, FrameAuth, TokenLimits
from services.gateway.backpressure import PipelineLag
from services.gateway.frames import DuplicateFilter, FrameRejected
from services.gateway.settings import GatewaySettings

FRAMES_PATH = "/v1/sessions/{session_id}/frames"
FRAMES_TOTAL = Counter("interarec_gateway_frames_total", "Frame requests, by outcome", ["outcome"])
FRAME_BYTES = Histogram("interarec_gateway_frame_bytes", "Re-encoded frame size",
                        buckets=(16e3, 64e3, 128e3, 256e3, 512e3, 1024e3))
ACK_SECONDS = Histogram("interarec_gateway_broker_ack_seconds", "Time from send to broker acknowledgement",
                        buckets=metrics.LATENCY_BUCKETS)


@dataclass
class Context:
    """Everything the routes share, built once by create_app (app.state.ctx)."""

    settings: GatewaySettings
    producer: Producer
    auth: FrameAuth
    limiter: RateLimiter  # per tenant: tenants kept apart
    token_limits: TokenLimits
    duplicates: DuplicateFilter
    in_flight: FairSlots  # frames from validation to the broker's ack
    decodes: FairSlots  # full or scaled decodes on threads
    pipeline: PipelineLag  # the back-pressure signal


async def context(request: Request) -> Context:
    # async on purpose: FastAPI runs a plain-def dependency on a worker thread, a thread hop per request.
    return request.app.state.ctx


Ctx = Annotated[Context, Depends(context)]


def rejected(rej: FrameRejected, headers: dict[str, str] | None = None) -> ApiError:
    return ApiError(rej.status, rej.code, rej.message, headers)


def admit(ctx: Context, session_id: str, headers: Mapping[str, str]) -> Caller:
    """Who posts, within their limits and while the pipeline keeps up: checked before the body is read, so a
    caller without credentials or over a limit costs next to nothing whatever the body's size. headers: a
    case-insensitive mapping (Starlette's Headers). Raises ApiError."""
    try:
        caller = ctx.auth.authenticate(session_id, headers, time.time())
    except FrameRejected as rej:
        raise rejected(rej) from None
    wait = ctx.token_limits.acquire(caller, time.monotonic())
    if wait:
        raise ApiError(429, "rate_limited", f"per-session rate limit of {ctx.settings.token_rate_per_s:g} frames/s "
                       "reached", headers={"Retry-After": retry_after_header(wait)})
    wait = ctx.limiter.acquire(caller.tenant, time.monotonic())
    if wait:
        raise ApiError(429, "rate_limited", f"tenant rate limit of {ctx.settings.rate_per_s:g} frames/s reached",
                       headers={"Retry-After": retry_after_header(wait)})
    if (retry_after := ctx.pipeline.retry_after_s()) is not None:
        raise ApiError(429, "pipeline_behind", f"the pipeline is {ctx.pipeline.lag} frames behind; capture less "
                       f"and send the newest frame after Retry-After", headers={"Retry-After": str(retry_after)})
    return caller


def refusal(exc: StarletteHTTPException) -> Response:
    """A refused frame request: counted by its code (limits, auth, validation, broker), answered in the envelope."""
    FRAMES_TOTAL.labels(outcome=exc.code if isinstance(exc, ApiError) else str(exc.status_code)).inc()
    return http_error_response(exc)


async def _counted_error(request: Request, exc: StarletteHTTPException):
    """Refusals on the frames path outside the upload itself (a preflight, a wrong method) counted like its own."""
    if getattr(request.scope.get("route"), "path", None) == FRAMES_PATH:
        return refusal(exc)
    return await http_error_handler(request, exc)


def count_refusals(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _counted_error)


class FrameCors:
    """CORS headers for a known shop origin on every answer, errors included (the capture script backs off
    on 429/503 by Retry-After, which it can read only with these). Pure ASGI middleware."""

    def __init__(self, app: ASGIApp, auth: FrameAuth):
        self.app, self.auth = app, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        extra = [(k.encode(), v.encode()) for k, v in self.auth.cors_headers(origin).items()]

        async def with_cors(message: Message) -> None:
            if extra and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_cors)
