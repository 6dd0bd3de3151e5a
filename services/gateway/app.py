"""Gateway HTTP API: authenticate, validate and re-encode frames, answer 202 only after Kafka acked.

create_app wires the shared state (dependencies.Context), the frames router (routes/frames.py), the shared
error envelope and ops router (services/common); nothing here handles a request itself."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from services.common.delivery import Producer
from services.common.http_errors import install_error_handlers
from services.common.http_metrics import instrument
from services.common.http_ops import ops_router
from services.common.kafka_producer import AsyncProducer
from services.common.ratelimit import RateLimiter
from services.common.rdkafka_producer import RdAsyncProducer
from services.common.session_tokens import SessionTokens
from services.common.topics import FRAMES
from services.gateway.admission import FairSlots
from services.gateway.auth import FrameAuth, TokenLimits
from services.gateway.backpressure import PipelineLag
from services.gateway.dependencies import Context, FrameCors, count_refusals
from services.gateway.frames import MAX_FRAME_BYTES, DuplicateFilter
from services.gateway.routes import frames
from services.gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]

# Frames sent within linger_ms of each other to one partition share a batch up to this size (one frame of up
# to MAX_FRAME_BYTES still fits the frames topic's 2 MiB max.message.bytes on its own): fewer produce requests
# and I/O-thread wake-ups than a batch per frame, kafka-python's default for records over 16 KB (librdkafka's
# default is about this size already; set the same for both).
PRODUCER_BATCH_BYTES = MAX_FRAME_BYTES


def frames_producer(settings: GatewaySettings) -> Producer:
    """The producer INTERAREC_GATEWAY_PRODUCER names, with the same batching, linger and request size."""
    if settings.producer == "kafka-python":
        return AsyncProducer(settings.bootstrap, client_id="interarec-gateway", max_block_s=settings.ack_timeout_s,
                             batch_bytes=PRODUCER_BATCH_BYTES, linger_ms=settings.linger_ms)
    # librdkafka refuses a record at once when its queue is full (kafka-python's send() would wait): sized so
    # that every frame in flight fits, a full queue means the broker is not taking frames (503)
    queue_bytes = max(32 * 1024 * 1024, settings.max_in_flight * (MAX_FRAME_BYTES + 64 * 1024))
    return RdAsyncProducer(settings.bootstrap, client_id="interarec-gateway", batch_bytes=PRODUCER_BATCH_BYTES,
                           linger_ms=settings.linger_ms, probe_topic=FRAMES.name, buffer_bytes=queue_bytes)


def create_app(settings: GatewaySettings, producer: Producer | None = None) -> FastAPI:
    producer = producer or frames_producer(settings)
    # verify only (the storefront API mints): no lifetime of its own
    tokens = SessionTokens(settings.token_secret, ttl_s=0) if settings.token_secret else None
    ctx = Context(settings=settings, producer=producer, auth=FrameAuth(settings.api_keys, tokens, settings.origins),
                  limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
                  token_limits=TokenLimits(settings.token_rate_per_s, settings.token_rate_burst),
                  duplicates=DuplicateFilter(), in_flight=FairSlots(settings.max_in_flight),
                  decodes=FairSlots(settings.max_decodes),
                  pipeline=PipelineLag(settings.bootstrap, settings.lag_group, settings.max_lag_messages,
                                       settings.lag_interval_s))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        producer.start()
        ctx.pipeline.start()
        yield
        await run_in_threadpool(ctx.pipeline.stop)
        await run_in_threadpool(producer.close)

    app = FastAPI(title="InteraRec gateway", version="1", lifespan=lifespan,
                  description="Screenshot frames in, Kafka out. Server-side capture sends `X-API-Key`; a shopper's "
                              "browser sends `Authorization: Bearer <session token>` from its tenant's origin. "
                              'Every error answers `{"error": {"code", "message", "details"}}`.')
    app.state.ctx = ctx
    app.state.producer = producer
    install_error_handlers(app)
    count_refusals(app)
    frames_router = frames.router(settings.max_upload_bytes)
    app.include_router(frames_router)
    app.add_middleware(frames.Shortcut, route=frames.upload_route(frames_router))  # innermost: in metrics, CORS
    instrument(app, "gateway")
    app.add_middleware(FrameCors, auth=ctx.auth)
    app.include_router(ops_router(lambda: (True, {"status": "ready"}) if producer.ready else
                                  (False, {"status": "waiting for Kafka", "bootstrap": settings.bootstrap})))
    return app
