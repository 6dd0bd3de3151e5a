"""Gateway HTTP API: authenticate, validate and re-encode frames, answer 202 only after Kafka acked.

Never blocks the event loop: decoding runs on a thread, bounded by INTERAREC_GATEWAY_MAX_DECODES (beyond it a
request gets 429 with Retry-After instead of queueing without bound), and the Kafka hand-off runs on the
producer's own bounded threads (kafka_producer.py)."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from kafka.errors import KafkaError
from prometheus_client import Counter, Histogram
from starlette.concurrency import run_in_threadpool

from interarec.v1 import frames_pb2, trace_pb2
from services.common import config, metrics
from services.common.http_errors import error_response, install_error_handlers
from services.common.http_metrics import instrument
from services.common.http_ops import ops_router
from services.common.kafka_producer import AsyncProducer, BrokerUnavailable
from services.common.keys import session_key
from services.common.messages import now_ms
from services.common.ratelimit import RateLimiter, retry_after_header
from services.common.session_tokens import SessionTokens, token_secret_from_env
from services.common.tenants import ApiKeys, TenantOrigins
from services.common.topics import FRAMES
from services.gateway import openapi
from services.gateway.auth import FrameAuth, TokenLimits
from services.gateway.frames import (
    DuplicateFilter,
    FrameRejected,
    body_digest,
    check_capture_time,
    check_page_url,
    check_session_id,
    reencode,
)

log = logging.getLogger("interarec.gateway")

FRAMES_TOTAL = Counter("interarec_gateway_frames_total", "Frame requests, by outcome", ["outcome"])
FRAME_BYTES = Histogram("interarec_gateway_frame_bytes", "Re-encoded frame size",
                        buckets=(16e3, 64e3, 128e3, 256e3, 512e3, 1024e3))
ACK_SECONDS = Histogram("interarec_gateway_broker_ack_seconds", "Time from send to broker acknowledgement",
                        buckets=metrics.LATENCY_BUCKETS)


@dataclass(frozen=True)
class GatewaySettings:
    host: str
    port: int
    bootstrap: str
    api_keys: ApiKeys
    max_upload_bytes: int
    ack_timeout_s: float
    max_decodes: int = 4
    rate_per_s: float = 100.0  # frames per second per tenant, on average
    rate_burst: int = 200
    token_secret: bytes | None = None  # browser session tokens (shared with the storefront API); None: keys only
    origins: TenantOrigins = TenantOrigins({})
    token_rate_per_s: float = 4.0  # frames per second per browser token
    token_rate_burst: int = 8

    @classmethod
    def from_env(cls) -> GatewaySettings:
        return cls(
            host=config.env_str("INTERAREC_GATEWAY_HOST", "127.0.0.1"),
            port=config.env_int("INTERAREC_GATEWAY_PORT", 8500, minimum=1, maximum=65535),
            bootstrap=config.kafka_bootstrap(),
            api_keys=ApiKeys.from_env(),
            max_upload_bytes=config.env_int("INTERAREC_GATEWAY_MAX_UPLOAD_BYTES", 8 * 1024 * 1024,
                                            minimum=1024, maximum=64 * 1024 * 1024),
            ack_timeout_s=config.env_float("INTERAREC_GATEWAY_ACK_TIMEOUT_S", 10.0, minimum=0.1, maximum=120),
            max_decodes=config.env_int("INTERAREC_GATEWAY_MAX_DECODES", 4, minimum=1, maximum=256),
            rate_per_s=config.env_float("INTERAREC_GATEWAY_RATE_PER_S", 100.0, minimum=0.1, maximum=1_000_000),
            rate_burst=config.env_int("INTERAREC_GATEWAY_RATE_BURST", 200, minimum=1, maximum=10_000_000),
            token_secret=token_secret_from_env(),
            origins=TenantOrigins.from_env(),
            token_rate_per_s=config.env_float("INTERAREC_GATEWAY_TOKEN_RATE_PER_S", 4.0, minimum=0.1, maximum=1000),
            token_rate_burst=config.env_int("INTERAREC_GATEWAY_TOKEN_RATE_BURST", 8, minimum=1, maximum=10_000),
        )


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    FRAMES_TOTAL.labels(outcome=code).inc()
    return error_response(status, code, message, headers)


def _with_headers(response: Response, headers: dict[str, str]) -> Response:
    response.headers.update(headers)
    return response


class DecodeSlots:
    """A bound on concurrent image decodes that never waits: a request either gets a slot or a 429."""

    def __init__(self, limit: int):
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1


MAX_HEADER_INT = 2**63 - 1  # fits the int64/uint64 proto fields it goes into


def _int_header(request: Request, name: str, default: int) -> int:
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


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FrameRejected(413, "body_too_large", f"body of {declared} bytes exceeds the {limit}-byte upload limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FrameRejected(413, "body_too_large", f"body exceeds the {limit}-byte upload limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: GatewaySettings, producer: AsyncProducer | None = None) -> FastAPI:
    producer = producer or AsyncProducer(settings.bootstrap, client_id="interarec-gateway",
                                         max_block_s=settings.ack_timeout_s)
    duplicates = DuplicateFilter()
    decodes = DecodeSlots(settings.max_decodes)
    limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)  # per tenant: tenants kept apart
    # verify only (the storefront API mints): no lifetime of its own
    tokens = SessionTokens(settings.token_secret, ttl_s=0) if settings.token_secret else None
    auth = FrameAuth(settings.api_keys, tokens, settings.origins)
    token_limits = TokenLimits(settings.token_rate_per_s, settings.token_rate_burst)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        producer.start()
        yield
        await run_in_threadpool(producer.close)

    app = FastAPI(title="InteraRec gateway", lifespan=lifespan)
    install_error_handlers(app)
    instrument(app, "gateway")
    app.state.producer = producer

    @app.options("/v1/sessions/{session_id}/frames", include_in_schema=False)
    async def frames_preflight(session_id: str, request: Request) -> Response:
        headers = auth.preflight_headers(request.headers.get("origin"),
                                         request.headers.get("access-control-request-method"))
        if headers is None:
            return error(403, "forbidden", "CORS: this origin is not configured for any tenant")
        return Response(status_code=204, headers=headers)

    @app.post("/v1/sessions/{session_id}/frames", status_code=202, **openapi.FRAMES)
    async def post_frame(session_id: str, request: Request) -> Response:
        cors = auth.cors_headers(request.headers.get("origin"))
        return _with_headers(await accept_frame(session_id, request), cors)

    async def accept_frame(session_id: str, request: Request) -> Response:
        received_ms = now_ms()
        try:
            caller = auth.authenticate(session_id, request.headers, time.time())
        except FrameRejected as rej:
            return error(rej.status, rej.code, rej.message)
        tenant = caller.tenant
        wait = token_limits.acquire(caller, time.monotonic())
        if wait:
            return error(429, "rate_limited", f"per-session rate limit of {settings.token_rate_per_s:g} frames/s "
                         "reached", headers={"Retry-After": retry_after_header(wait)})
        wait = limiter.acquire(tenant, time.monotonic())
        if wait:  # before reading the body: a flooding tenant costs the others next to nothing
            return error(429, "rate_limited", f"tenant rate limit of {settings.rate_per_s:g} frames/s reached",
                         headers={"Retry-After": retry_after_header(wait)})
        try:
            check_session_id(session_id)
            frame_seq = _int_header(request, "x-frame-seq", 0)
            capture_ms = _int_header(request, "x-capture-time", received_ms)
            check_capture_time(capture_ms, received_ms)
            page_url = check_page_url(request.headers.get("x-page-url", ""))
            page_title = request.headers.get("x-page-title", "")[:512]
            body = await _read_body(request, settings.max_upload_bytes)
            digest = body_digest(body)
            key = session_key(tenant, session_id)
            if duplicates.seen(key, digest):
                FRAMES_TOTAL.labels(outcome="duplicate").inc()
                return JSONResponse({"status": "duplicate", "frame_seq": frame_seq}, status_code=200)
            if not decodes.try_acquire():
                return error(429, "too_busy", f"{settings.max_decodes} frames are being decoded; retry shortly",
                             headers={"Retry-After": "1"})
            try:
                # Decoding and re-encoding is CPU work: keep it off the event loop.
                encoded = await run_in_threadpool(reencode, body, request.headers.get("content-type", ""))
            finally:
                decodes.release()
        except FrameRejected as rej:
            return error(rej.status, rej.code, rej.message)

        frame = frames_pb2.Frame(
            session_id=session_id, tenant=tenant, frame_seq=frame_seq, capture_unix_ms=capture_ms,
            page_url=page_url, page_title=page_title, mime_type=encoded.mime_type, image=encoded.image,
            width=encoded.width, height=encoded.height, sha256=encoded.sha256,
            trace=trace_pb2.Trace(capture_unix_ms=capture_ms),
        )
        frame.trace.stages.add(stage="gateway", start_unix_ms=received_ms, end_unix_ms=now_ms())
        started = time.perf_counter()
        try:
            md = await producer.send(FRAMES.name, key.encode(), frame.SerializeToString(),
                                     timeout_s=settings.ack_timeout_s)
        except BrokerUnavailable as exc:
            return error(503, "broker_unavailable", str(exc), headers={"Retry-After": "2"})
        except (TimeoutError, KafkaError) as exc:
            log.warning("frame not acknowledged by Kafka: %r", exc, extra={"session_id": session_id})
            return error(503, "broker_unavailable", f"Kafka did not acknowledge the frame: {exc!r}",
                         headers={"Retry-After": "2"})
        ACK_SECONDS.observe(time.perf_counter() - started)
        FRAME_BYTES.observe(len(encoded.image))
        FRAMES_TOTAL.labels(outcome="accepted").inc()
        duplicates.remember(key, digest)
        return JSONResponse({"status": "accepted", "frame_seq": frame_seq, "partition": md.partition,
                             "offset": md.offset, "bytes": len(encoded.image)}, status_code=202)

    app.include_router(ops_router(lambda: (True, {"status": "ready"}) if producer.ready else
                                  (False, {"status": "waiting for Kafka", "bootstrap": settings.bootstrap})))
    return app
