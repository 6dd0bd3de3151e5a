"""Per-session routes: mint a browser token, the latest recommendation, its history, and the SSE stream."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from services.common.http_errors import ApiError
from services.common.http_limits import GuardedRoute
from services.common.ratelimit import retry_after_header
from services.storefront_api import models
from services.storefront_api.dependencies import (
    REQUESTS,
    Caller,
    Ctx,
    errors,
    not_found,
    session_caller,
    session_path,
    tenant_caller,
)
from services.storefront_api.latest import to_json

STREAM_RETRY_MS = 3000  # SSE `retry:` hint for the browser's reconnect
MAX_EVENT_ID = 2**63 - 1

router = APIRouter(tags=["sessions"], route_class=GuardedRoute)
SessionId = Annotated[str, session_path()]


@router.post("/v1/sessions/{session_id}/token", status_code=201, response_model=models.TokenOut,
             responses=errors(401, 422, 429), summary="Mint a short-lived token for one session (server to server)")
async def mint_token(session_id: SessionId, ctx: Ctx,
                     caller: Annotated[Caller, Depends(tenant_caller("token"))]) -> models.TokenOut:
    token, expires = ctx.tokens.mint(caller.tenant, session_id, time.time())
    REQUESTS.labels(endpoint="token", outcome="ok").inc()
    return models.TokenOut(token=token, session_id=session_id, expires_at=expires)


@router.get("/v1/sessions/{session_id}/recommendations", response_model=models.RecommendationOut,
            responses=errors(401, 403, 404, 422, 429), summary="The session's latest recommendation")
async def latest(session_id: SessionId, ctx: Ctx,
                 caller: Annotated[Caller, Depends(session_caller("recommendations"))]) -> dict:
    rec = ctx.store.get(caller.tenant, session_id)
    if rec is None:
        raise not_found(session_id)
    REQUESTS.labels(endpoint="recommendations", outcome="ok").inc()
    return to_json(rec)


@router.get("/v1/sessions/{session_id}/recommendations/history", response_model=models.HistoryOut,
            responses=errors(401, 403, 404, 422, 429),
            summary="The session's recent recommendation windows, oldest first")
async def history(session_id: SessionId, ctx: Ctx,
                  caller: Annotated[Caller, Depends(session_caller("history"))]) -> dict:
    windows = ctx.store.history(caller.tenant, session_id)
    if not windows:
        raise not_found(session_id)
    REQUESTS.labels(endpoint="history", outcome="ok").inc()
    return {"session_id": session_id, "windows": [to_json(r) for r in windows]}


def last_event_id(header: str) -> int:
    """The window_seq a reconnecting browser last saw. ASCII digits only: str.isdigit() is also true for
    superscripts and other scripts' digits, which int() then refuses (that was a 500)."""
    if not (header.isascii() and header.isdigit()) or len(header) > 19 or int(header) > MAX_EVENT_ID:
        raise ApiError(422, "invalid_request", "Last-Event-ID must be a window_seq (an integer)")
    return int(header)


@router.get("/v1/sessions/{session_id}/stream",
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "`event: recommendation` (id = window_seq, data = the JSON of "
                                            "GET .../recommendations); `: heartbeat` comments"},
                       **errors(401, 403, 422, 429)},
            summary="Live recommendations (SSE); resumes after Last-Event-ID")
async def stream(request: Request, session_id: SessionId, ctx: Ctx,
                 caller: Annotated[Caller, Depends(session_caller("stream"))],
                 last_event_id_q: Annotated[int | None, Query(alias="last_event_id", ge=0, le=MAX_EVENT_ID,
                                                              description="instead of the Last-Event-ID header")
                                            ] = None) -> StreamingResponse:
    resume_from = last_event_id_q
    header = request.headers.get("last-event-id", "").strip()
    if header:
        resume_from = last_event_id(header)
    settings, store = ctx.settings, ctx.store
    if not ctx.slots.try_open(caller.tenant):
        REQUESTS.labels(endpoint="stream", outcome="too_many_streams").inc()
        raise ApiError(429, "too_many_streams", f"{settings.max_streams_per_tenant} streams are open for this tenant",
                       headers={"Retry-After": retry_after_header(settings.heartbeat_s)})
    queue = store.subscribe(caller.tenant, session_id)
    REQUESTS.labels(endpoint="stream", outcome="ok").inc()

    async def events():
        try:
            yield f"retry: {STREAM_RETRY_MS}\n\n"
            if resume_from is None:  # a fresh client: the current state, then newer ones
                current = store.get(caller.tenant, session_id)
                backlog = [current] if current is not None else []
            else:  # a reconnecting client: every kept window it missed, in order
                backlog = store.after(caller.tenant, session_id, resume_from)
            sent_seq = resume_from if resume_from is not None else -1
            for rec in backlog:
                sent_seq = rec.window_seq
                yield _sse(rec)
            while not await request.is_disconnected():
                try:
                    rec = await asyncio.wait_for(queue.get(), settings.heartbeat_s)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if rec.window_seq > sent_seq:
                    sent_seq = rec.window_seq
                    yield _sse(rec)
        finally:
            store.unsubscribe(caller.tenant, session_id, queue)
            ctx.slots.close(caller.tenant)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(rec) -> str:
    return f"event: recommendation\nid: {rec.window_seq}\ndata: {json.dumps(to_json(rec))}\n\n"
