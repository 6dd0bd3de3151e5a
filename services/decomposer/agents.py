"""The decomposer's stage: a behaviour summary in, a validated optimization request out. The rules and the
LLM backend are core modules (services/core/decompose); this is the handler and its Faust registration.

`DecomposeStage` receives everything it touches (the backend, the last-window table, the output topic and
the send function), so the same handler runs under Faust (app.py: build) and in the in-memory driver
of the unit tests (services/common/driver.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.types import EventT

from interarec.v1 import summaries_pb2
from services.common.messages import add_span, decode, now_ms
from services.common.worker import Consumer
from services.core.decompose.llm_backend import Decomposer

log = logging.getLogger("interarec.decomposer")
Send = Callable[[list[tuple[Any, bytes, bytes]]], Awaitable[Any]]


class DecomposeStage:
    def __init__(self, decomposer: Decomposer, last_window, out_topic, send: Send):
        self.decomposer = decomposer
        self.last_window, self.out_topic, self.send = last_window, out_topic, send

    async def handle(self, event: EventT) -> None:
        started = now_ms()
        summary = decode(summaries_pb2.BehaviourSummary, event.value)
        if self.last_window.is_stale(summary, log):
            return
        key = self.last_window.key(summary)
        ctx = {"session_id": key, "window_seq": summary.window_seq}
        if summary.frame_offsets and summary.frames_in_window == 0:
            # A window of near-duplicates only (the shopper dwelt on a page): nothing new was seen, so the last
            # recommendation stands; the summary exists to account for those frames.
            self.last_window.record(summary)
            log.info("window holds only duplicates: no new request", extra=ctx)
            return
        request = await self.decomposer.decompose(summary)
        request.trace.CopyFrom(summary.trace)
        add_span(request.trace, "decomposer", started)
        await self.send([(self.out_topic, key.encode(), request.SerializeToString())])
        self.last_window.record(summary)
        c = request.constraints
        log.info("request: k=%d brands=%s categories=%s colours=%s price=[%s, %s] relaxations=%d", request.k,
                 list(c.brands), list(c.categories), list(c.colours),
                 c.price_min if c.HasField("price_min") else "-", c.price_max if c.HasField("price_max") else "-",
                 len(request.relaxations), extra=ctx)


def register_agents(app: faust.App, summaries: faust.TopicT, stage: DecomposeStage, consumer: Consumer) -> None:
    @app.agent(summaries, name="services.decomposer.agents.decompose_summaries")
    async def decompose_summaries(stream):
        await consumer.run(stream, stage.handle)
