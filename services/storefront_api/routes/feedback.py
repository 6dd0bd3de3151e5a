"""Feedback routes: one shopper event, or a batch of up to 100 (all or nothing)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends
from kafka.errors import KafkaError

from interarec.v1 import feedback_pb2
from services.common.http_errors import ApiError
from services.common.http_limits import GuardedRoute
from services.common.kafka_producer import BrokerUnavailable
from services.common.keys import session_key
from services.common.topics import FEEDBACK
from services.storefront_api import feedback as feedback_rules
from services.storefront_api import models
from services.storefront_api.dependencies import (
    REQUESTS,
    Caller,
    Context,
    Ctx,
    errors,
    not_found,
    session_caller,
    session_path,
)

router = APIRouter(tags=["feedback"], route_class=GuardedRoute)
SessionId = Annotated[str, session_path()]


async def record_feedback(ctx: Context, caller: Caller, session_id: str,
                          events: list[models.FeedbackIn]) -> models.FeedbackAccepted:
    shown = ctx.store.shown(caller.tenant, session_id)
    if not shown:
        raise not_found(session_id)
    problems = [f"events[{i}]: {p}" for i, e in enumerate(events)
                if (p := feedback_rules.problem(ctx.catalog, shown, e.product_id, e.event, e.window_seq))]
    if problems:
        REQUESTS.labels(endpoint="feedback", outcome="invalid").inc()
        raise ApiError(422, "invalid_feedback", problems[0] if len(problems) == 1 else
                       f"{len(problems)} of {len(events)} events are invalid; none was recorded", details=problems)
    now = int(time.time() * 1000)
    key = session_key(caller.tenant, session_id).encode()
    messages = [feedback_pb2.Feedback(session_id=session_id, tenant=caller.tenant, window_seq=e.window_seq,
                                      product_id=e.product_id, event=feedback_rules.EVENTS[e.event],
                                      event_unix_ms=now).SerializeToString() for e in events]
    try:  # all or nothing from the caller's view: 202 only once every event is acknowledged
        await asyncio.gather(*(ctx.producer.send(FEEDBACK.name, key, m) for m in messages))
    except (BrokerUnavailable, TimeoutError, KafkaError) as exc:
        REQUESTS.labels(endpoint="feedback", outcome="broker_unavailable").inc()
        raise ApiError(503, "broker_unavailable", f"Kafka did not acknowledge the feedback: {exc!r}") from None
    REQUESTS.labels(endpoint="feedback", outcome="ok").inc()
    return models.FeedbackAccepted(status="accepted", accepted=len(messages))


@router.post("/v1/sessions/{session_id}/feedback", status_code=202, response_model=models.FeedbackAccepted,
             responses=errors(401, 403, 404, 413, 422, 429, 503),
             summary="Record one shopper event (impression, click, add to cart, purchase)")
async def feedback(body: models.FeedbackIn, session_id: SessionId, ctx: Ctx,
                   caller: Annotated[Caller, Depends(session_caller("feedback"))]) -> models.FeedbackAccepted:
    return await record_feedback(ctx, caller, session_id, [body])


@router.post("/v1/sessions/{session_id}/feedback/batch", status_code=202, response_model=models.FeedbackAccepted,
             responses=errors(401, 403, 404, 413, 422, 429, 503),
             summary="Record up to 100 events at once; one invalid event rejects the batch")
async def feedback_batch(body: models.FeedbackBatchIn, session_id: SessionId, ctx: Ctx,
                         caller: Annotated[Caller, Depends(session_caller("feedback"))]) -> models.FeedbackAccepted:
    return await record_feedback(ctx, caller, session_id, body.events)
