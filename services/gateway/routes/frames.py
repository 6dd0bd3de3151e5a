"""Frame upload: validate a screenshot (re-encoded only if not a JPEG in budget), 202 once Kafka acked it.

Never blocks the event loop for long: a JPEG's structure check runs inline (about 0.1 ms), any decode on a
thread holding one of INTERAREC_GATEWAY_MAX_DECODES slots, and the Kafka send queues the frame in librdkafka
without waiting (services/common/rdkafka_producer.py).
Frames in flight and decode slots are shared fairly between tenants (admission.py); past a tenant's share
the answer is 429 `too_busy` with Retry-After.

The upload is served as plain ASGI (UploadRoute.handle, reached straight from the middleware by Shortcut):
FastAPI documents the route from its declaration (OpenAPI), but a request never goes through its router,
exception and exit-stack middleware, Request object, dependency solving or response model (together about a
sixth of the gateway's CPU per frame in py-spy). In order, before any byte of the body is read: the caller's
credentials, rate limits and the pipeline's back-pressure (dependencies.admit), then the declared length
against the upload limit; the body is read into one buffer within that limit (413 past it). Every refusal is
an ApiError answered in the shared envelope and counted by outcome (dependencies.refusal); HttpMetrics and
FrameCors wrap it as any route."""

from __future__ import annotations

import json
import logging
import re
import time

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from kafka.errors import KafkaError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

from interarec.v1 import frames_pb2, trace_pb2
from services.common.delivery import BrokerUnavailable, DeliveryFailed
from services.common.http_errors import ApiError
from services.common.http_limits import LIMIT_KEY, check_declared_length, limited_receive
from services.common.keys import session_key
from services.common.messages import now_ms
from services.common.topics import FRAMES
from services.gateway import frames, openapi
from services.gateway.dependencies import (
    ACK_SECONDS,
    FRAME_BYTES,
    FRAMES_PATH,
    FRAMES_TOTAL,
    Context,
    Ctx,
    admit,
    refusal,
    rejected,
)
from services.gateway.frames import FrameRejected
from services.gateway.models import FrameAccepted, FrameDuplicate

log = logging.getLogger("interarec.gateway")
MAX_HEADER_INT = 2**63 - 1  # fits the int64/uint64 proto fields it goes into
# FRAMES_PATH as Starlette matches it: {session_id} is one non-empty path segment (validated in the upload)
UPLOAD_PATH = re.compile("^" + FRAMES_PATH.replace("{session_id}", "(?P<session_id>[^/]+)") + "$")
JSON_HEADERS = [(b"content-type", b"application/json")]


def int_header(headers: Headers, name: str, default: int) -> int:
    raw = headers.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FrameRejected(400, "bad_header", f"header {name} must be an integer, got {raw[:40]!r}") from None
    if not 0 <= value <= MAX_HEADER_INT:
        raise FrameRejected(400, "bad_header", f"header {name} must be between 0 and {MAX_HEADER_INT}")
    return value


def router(max_upload_bytes: int) -> APIRouter:
    """The frames routes; the body limit is a setting, so the router is built per app."""
    api = APIRouter(tags=["frames"])

    @api.options(FRAMES_PATH, include_in_schema=False)
    async def frames_preflight(session_id: str, request: Request, ctx: Ctx) -> Response:
        headers = ctx.auth.preflight_headers(request.headers.get("origin"),
                                             request.headers.get("access-control-request-method"))
        if headers is None:
            raise ApiError(403, "forbidden", "CORS: this origin is not configured for any tenant")
        return Response(status_code=204, headers=headers)

    async def post_frame(session_id: str) -> FrameAccepted | FrameDuplicate:
        """The upload's declaration for the OpenAPI document; UploadRoute.handle serves it."""
        raise NotImplementedError  # never called: UploadRoute.handle does not call its endpoint

    api.add_api_route(FRAMES_PATH, post_frame, methods=["POST"], status_code=202,
                      response_model=FrameAccepted | FrameDuplicate, route_class_override=UploadRoute,
                      openapi_extra={**openapi.FRAMES["openapi_extra"], LIMIT_KEY: max_upload_bytes},
                      **{k: v for k, v in openapi.FRAMES.items() if k != "openapi_extra"})
    return api


class UploadRoute(APIRoute):
    """The upload as plain ASGI; the route's endpoint is only its declaration (OpenAPI)."""

    @property
    def max_body_bytes(self) -> int:
        return int(self.openapi_extra[LIMIT_KEY])

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.methods:  # the router's partial match: 405 in the envelope
            await super().handle(scope, receive, send)
            return
        try:
            status, body = await upload(scope["app"].state.ctx, scope, receive, self.max_body_bytes)
        except ApiError as exc:
            await refusal(exc)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class Shortcut:
    """Pure ASGI middleware (the innermost): a frame upload goes straight to UploadRoute.handle, everything else
    (the preflight, other methods, the other routes) through FastAPI as before."""

    def __init__(self, app: ASGIApp, route: UploadRoute):
        self.app, self.route = app, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and (
                match := UPLOAD_PATH.match(get_route_path(scope))):
            scope["route"], scope["path_params"] = self.route, match.groupdict()
            await self.route.handle(scope, receive, send)
            return
        await self.app(scope, receive, send)


def upload_route(api: APIRouter) -> UploadRoute:
    return next(r for r in api.routes if isinstance(r, UploadRoute))


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, 413 as soon as it passes limit (a declared Content-Length was checked before)."""
    receive = limited_receive(receive, limit)
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def upload(ctx: Context, scope: Scope, receive: Receive, limit: int) -> tuple[int, bytes]:
    """(status, JSON answer) for one frame upload; raises ApiError for every refusal."""
    received_ms = now_ms()
    settings = ctx.settings
    headers = Headers(scope=scope)
    session_id = scope["path_params"]["session_id"]
    caller = admit(ctx, session_id, headers)
    check_declared_length(headers.get("content-length"), limit)
    try:
        frames.check_session_id(session_id)
        frame_seq = int_header(headers, "x-frame-seq", 0)
        capture_ms = int_header(headers, "x-capture-time", received_ms)
        frames.check_capture_time(capture_ms, received_ms)
        page_url = frames.check_page_url(headers.get("x-page-url", ""))
    except FrameRejected as rej:
        raise rejected(rej) from None
    page_title = headers.get("x-page-title", "")[:512]
    body = await read_body(receive, limit)
    content_type = headers.get("content-type", "")
    # A JPEG in budget is checked inline (about 0.1 ms, no pixel decoded) and its digest is the written
    # image's; anything else is looked up by its body's digest before it costs a decode.
    fast = settings.jpeg_check == "structure" and not frames.needs_reencode(body, content_type)
    encoded = checked(frames.pass_through, body, content_type) if fast else None
    digest = encoded.sha256 if encoded is not None else frames.body_digest(body)
    key = session_key(caller.tenant, session_id)
    if ctx.duplicates.seen(key, digest):
        FRAMES_TOTAL.labels(outcome="duplicate").inc()
        return answer(200, FrameDuplicate(frame_seq=frame_seq))
    if not ctx.in_flight.try_acquire(caller.tenant, time.monotonic()):
        raise too_busy(f"this tenant's share of the {settings.max_in_flight} frames in flight is taken")
    try:
        if encoded is None:
            encoded = await decoded(ctx, caller.tenant, body, content_type)
        frame = frames_pb2.Frame(
            session_id=session_id, tenant=caller.tenant, frame_seq=frame_seq, capture_unix_ms=capture_ms,
            page_url=page_url, page_title=page_title, mime_type=encoded.mime_type,
            width=encoded.width, height=encoded.height, sha256=encoded.sha256,
            trace=trace_pb2.Trace(capture_unix_ms=capture_ms),
        )
        frame.trace.stages.add(stage="gateway", start_unix_ms=received_ms, end_unix_ms=now_ms())
        md = await produce(ctx, session_id, key, frames.frame_record(frame, encoded.image))
    finally:
        ctx.in_flight.release(caller.tenant)
    FRAME_BYTES.observe(len(encoded.image))
    FRAMES_TOTAL.labels(outcome="accepted").inc()
    ctx.duplicates.remember(key, digest)
    return answer(202, FrameAccepted(frame_seq=frame_seq, partition=md.partition, offset=md.offset,
                                     bytes=len(encoded.image)))


def answer(status: int, model: FrameAccepted | FrameDuplicate) -> tuple[int, bytes]:
    """The documented answer as JSON, without FastAPI's second validation of a model built just now."""
    return status, json.dumps(model.__dict__, separators=(",", ":")).encode()


def too_busy(message: str) -> ApiError:
    return ApiError(429, "too_busy", f"{message}; retry shortly", headers={"Retry-After": "1"})


def checked(validate, *args) -> frames.EncodedFrame:
    try:
        return validate(*args)
    except FrameRejected as rej:
        raise rejected(rej) from None


async def decoded(ctx: Context, tenant: str, body: bytes, content_type: str) -> frames.EncodedFrame:
    """A frame that needs a decode (the full decode and re-encode of anything but a JPEG in budget, or the
    "decode" check): on a thread, holding one of the tenant's share of the decode slots."""
    if not ctx.decodes.try_acquire(tenant, time.monotonic()):
        raise too_busy(f"this tenant's share of the {ctx.settings.max_decodes} decode slots is taken")
    try:
        if frames.needs_reencode(body, content_type):
            return await run_in_threadpool(checked, frames.reencode, body, content_type)
        return await run_in_threadpool(checked, frames.pass_through, body, content_type, ctx.settings.jpeg_check)
    finally:
        ctx.decodes.release(tenant)


async def produce(ctx: Context, session_id: str, key: str, value: bytes):
    """The frame on the frames topic, acknowledged (its partition and offset); 503 when Kafka did not take it."""
    started = time.perf_counter()
    try:
        md = await ctx.producer.send(FRAMES.name, key.encode(), value, timeout_s=ctx.settings.ack_timeout_s)
    except BrokerUnavailable as exc:
        raise ApiError(503, "broker_unavailable", str(exc), headers={"Retry-After": "2"}) from None
    except (TimeoutError, DeliveryFailed, KafkaError) as exc:  # KafkaError: the kafka-python producer
        log.warning("frame not acknowledged by Kafka: %r", exc, extra={"session_id": session_id})
        raise ApiError(503, "broker_unavailable", f"Kafka did not acknowledge the frame: {exc!r}",
                       headers={"Retry-After": "2"}) from None
    ACK_SECONDS.observe(time.perf_counter() - started)
    return md
