"""Frame upload: validate a screenshot (re-encoded only if not a JPEG in budget), 202 once Kafka acked it.

Never blocks the event loop for long: a JPEG's structure check runs inline (about 0.1 ms), any decode on a
thread holding one of INTERAREC_GATEWAY_MAX_DECODES slots, and the Kafka send on the loop once the topic's
partitions are known (on the producer's bounded threads before; services/common/kafka_producer.py).
Frames in flight and decode slots are shared fairly between tenants (admission.py); past a tenant's share
the answer is 429 `too_busy` with Retry-After.
The body limit and the caller's credentials and rate limits are checked before the body is read
(GuardedRoute, dependencies.frame_caller).

The upload is a DirectRoute: FastAPI documents it from its declaration (OpenAPI), but a request calls the
endpoint directly with the path's session id, without FastAPI's dependency solving or response-model
validation (several percent of the gateway's CPU per frame in py-spy); the answer is built as JSON here. Errors
still raise ApiError into the app's handlers (the shared envelope, counted by outcome)."""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, Depends, Request, Response
from kafka.errors import KafkaError
from starlette.concurrency import run_in_threadpool

from interarec.v1 import frames_pb2, trace_pb2
from services.common.http_errors import ApiError
from services.common.http_limits import GuardedRoute, guarded_route
from services.common.kafka_producer import BrokerUnavailable
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
    context,
    frame_caller,
    rejected,
)
from services.gateway.frames import FrameRejected
from services.gateway.models import FrameAccepted, FrameDuplicate

log = logging.getLogger("interarec.gateway")
MAX_HEADER_INT = 2**63 - 1  # fits the int64/uint64 proto fields it goes into


def int_header(request: Request, name: str, default: int) -> int:
    raw = request.headers.get(name)
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
    api = APIRouter(tags=["frames"], route_class=guarded_route(max_upload_bytes))

    @api.options(FRAMES_PATH, include_in_schema=False)
    async def frames_preflight(session_id: str, request: Request, ctx: Ctx) -> Response:
        headers = ctx.auth.preflight_headers(request.headers.get("origin"),
                                             request.headers.get("access-control-request-method"))
        if headers is None:
            raise ApiError(403, "forbidden", "CORS: this origin is not configured for any tenant")
        return Response(status_code=204, headers=headers)

    async def post_frame(session_id: str, request: Request) -> Response:
        received_ms = now_ms()
        ctx = await context(request)
        settings = ctx.settings
        caller = await frame_caller(request)  # already checked before the body (GuardedRoute): cached
        try:
            frames.check_session_id(session_id)
            frame_seq = int_header(request, "x-frame-seq", 0)
            capture_ms = int_header(request, "x-capture-time", received_ms)
            frames.check_capture_time(capture_ms, received_ms)
            page_url = frames.check_page_url(request.headers.get("x-page-url", ""))
        except FrameRejected as rej:
            raise rejected(rej) from None
        page_title = request.headers.get("x-page-title", "")[:512]
        body = await request.body()  # within the route's limit (GuardedRoute): 413 past it
        content_type = request.headers.get("content-type", "")
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
                page_url=page_url, page_title=page_title, mime_type=encoded.mime_type, image=encoded.image,
                width=encoded.width, height=encoded.height, sha256=encoded.sha256,
                trace=trace_pb2.Trace(capture_unix_ms=capture_ms),
            )
            frame.trace.stages.add(stage="gateway", start_unix_ms=received_ms, end_unix_ms=now_ms())
            md = await produce(ctx, session_id, key, frame.SerializeToString())
        finally:
            ctx.in_flight.release(caller.tenant)
        FRAME_BYTES.observe(len(encoded.image))
        FRAMES_TOTAL.labels(outcome="accepted").inc()
        ctx.duplicates.remember(key, digest)
        return answer(202, FrameAccepted(frame_seq=frame_seq, partition=md.partition, offset=md.offset,
                                         bytes=len(encoded.image)))

    api.add_api_route(FRAMES_PATH, post_frame, methods=["POST"], status_code=202,
                      response_model=FrameAccepted | FrameDuplicate, dependencies=[Depends(frame_caller)],
                      route_class_override=direct_route(max_upload_bytes), **openapi.FRAMES)
    return api


class DirectRoute(GuardedRoute):
    """A GuardedRoute whose endpoint, `endpoint(<path params by name>, request) -> Response`, is called as it is:
    no dependency solving (the before_body dependencies have run in GuardedRoute.handle and cached their
    answer) and no response-model validation."""

    def get_route_handler(self):
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            return await endpoint(**request.path_params, request=request)

        return handler


def direct_route(max_body_bytes: int) -> type[DirectRoute]:
    return type("DirectRoute", (DirectRoute,), {"default_max_body_bytes": max_body_bytes})


def answer(status: int, model: FrameAccepted | FrameDuplicate) -> Response:
    """The documented answer as JSON, without FastAPI's second validation of a model built just now."""
    return Response(json.dumps(model.__dict__, separators=(",", ":")), status_code=status,
                    media_type="application/json")


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
    """The frame on the frames topic, acknowledged (RecordMetadata); 503 when Kafka did not take it."""
    started = time.perf_counter()
    try:
        md = await ctx.producer.send(FRAMES.name, key.encode(), value, timeout_s=ctx.settings.ack_timeout_s)
    except BrokerUnavailable as exc:
        raise ApiError(503, "broker_unavailable", str(exc), headers={"Retry-After": "2"}) from None
    except (TimeoutError, KafkaError) as exc:
        log.warning("frame not acknowledged by Kafka: %r", exc, extra={"session_id": session_id})
        raise ApiError(503, "broker_unavailable", f"Kafka did not acknowledge the frame: {exc!r}",
                       headers={"Retry-After": "2"}) from None
    ACK_SECONDS.observe(time.perf_counter() - started)
    return md
