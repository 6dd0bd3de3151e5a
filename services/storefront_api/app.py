"""Storefront API: latest recommendation per session (REST), live updates (SSE), shopper feedback."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from kafka.errors import KafkaError
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from interarec.v1 import feedback_pb2
from services.common import config, metrics
from services.common.kafka_producer import AsyncProducer, BrokerUnavailable
from services.common.topics import FEEDBACK
from services.gateway.frames import SESSION_ID_RE
from services.storefront_api.latest import LatestRecommendations, to_json
from services.storefront_api.reader import RecommendationReader

KEEPALIVE_S = 15.0
EVENTS = {e.name.removeprefix("FEEDBACK_EVENT_").lower(): e.number
          for e in feedback_pb2.FeedbackEvent.DESCRIPTOR.values if e.number}


@dataclass(frozen=True)
class StorefrontSettings:
    host: str
    port: int
    bootstrap: str
    cors_origins: list[str]

    @classmethod
    def from_env(cls) -> StorefrontSettings:
        return cls(
            host=config.env_str("INTERAREC_STOREFRONT_HOST", "127.0.0.1"),
            port=config.env_int("INTERAREC_STOREFRONT_PORT", 8600, minimum=1, maximum=65535),
            bootstrap=config.kafka_bootstrap(),
            cors_origins=config.env_str("INTERAREC_STOREFRONT_CORS_ORIGINS", "*").split(","),
        )


class FeedbackIn(BaseModel):
    product_id: str = Field(min_length=1, max_length=64)
    event: str = Field(description=f"one of {', '.join(EVENTS)}")
    window_seq: int = Field(default=0, ge=0)


def not_found(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "not_found", "message": message}}, status_code=404)


def bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "bad_request", "message": message}}, status_code=400)


def create_app(settings: StorefrontSettings) -> FastAPI:
    store = LatestRecommendations()
    producer = AsyncProducer(settings.bootstrap, client_id="interarec-storefront-api")
    state: dict[str, RecommendationReader] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reader = state["reader"] = RecommendationReader(settings.bootstrap, store, asyncio.get_running_loop())
        reader.start()
        producer.start()
        yield
        await run_in_threadpool(reader.stop)
        await run_in_threadpool(producer.close)

    app = FastAPI(title="InteraRec storefront API", lifespan=lifespan)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["*"])

    @app.get("/v1/sessions/{session_id}/recommendations")
    async def latest(session_id: str) -> Response:
        rec = store.get(session_id)
        if rec is None:
            return not_found(f"no recommendation yet for session {session_id!r}")
        return JSONResponse(to_json(rec))

    @app.get("/v1/sessions/{session_id}/stream")
    async def stream(session_id: str, request: Request) -> StreamingResponse:
        queue = store.subscribe(session_id)

        async def events():
            try:
                current = store.get(session_id)
                sent_seq = -1
                if current is not None:
                    sent_seq = current.window_seq
                    yield _sse(current)
                while not await request.is_disconnected():
                    try:
                        rec = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if rec.window_seq > sent_seq:
                        sent_seq = rec.window_seq
                        yield _sse(rec)
            finally:
                store.unsubscribe(session_id, queue)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/sessions/{session_id}/feedback", status_code=202)
    async def feedback(session_id: str, body: FeedbackIn) -> Response:
        if not SESSION_ID_RE.match(session_id):
            return bad_request("session id must be 1-64 characters of letters, digits, '.', '_' or '-'")
        event = EVENTS.get(body.event.lower())
        if event is None:
            return bad_request(f"event must be one of {', '.join(EVENTS)}")
        msg = feedback_pb2.Feedback(session_id=session_id, window_seq=body.window_seq, product_id=body.product_id,
                                    event=event, event_unix_ms=int(time.time() * 1000))
        try:
            await producer.send(FEEDBACK.name, session_id.encode(), msg.SerializeToString())
        except (BrokerUnavailable, TimeoutError, KafkaError) as exc:
            return JSONResponse({"error": {"code": "broker_unavailable", "message": str(exc)}}, status_code=503)
        return JSONResponse({"status": "accepted"}, status_code=202)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        reader = state.get("reader")
        if reader is not None and reader.caught_up.is_set():
            return JSONResponse({"status": "ready", "sessions": len(store)})
        return JSONResponse({"status": "loading recommendations"}, status_code=503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def _sse(rec) -> str:
    return f"event: recommendation\nid: {rec.window_seq}\ndata: {json.dumps(to_json(rec))}\n\n"
