"""Faust wiring for the decomposer; the rules themselves live in rules.py (pure)."""

from __future__ import annotations

import logging

from faust.types import EventT

from interarec.v1 import summaries_pb2
from services.common.catalog import Catalog
from services.common.config import catalog_path
from services.common.messages import add_span, decode, now_ms
from services.common.worker import Consumer, send_and_wait
from services.core.decompose.llm_backend import decompose_summary, make_backend
from services.decomposer.app import BACKEND, K, app, last_window, opt_requests, summaries

log = logging.getLogger("interarec.decomposer")
catalog = Catalog.load(catalog_path())
consumer = Consumer(app, "decomposer")
# Model path (issue 6): an LlmDecomposer for INTERAREC_DECOMPOSER_BACKEND=llm (rules fallback), None for "rules".
llm_backend = make_backend(BACKEND, catalog, K)
if llm_backend is not None:
    app.task(llm_backend.warm_up)


async def handle(event: EventT) -> None:
    started = now_ms()
    summary = decode(summaries_pb2.BehaviourSummary, event.value)
    if last_window.is_stale(summary, log):
        return
    key = last_window.key(summary)
    ctx = {"session_id": key, "window_seq": summary.window_seq}
    if summary.frame_offsets and summary.frames_in_window == 0:
        # A window of near-duplicates only (the shopper dwelt on a page): nothing new was seen, so the last
        # recommendation stands; the summary exists to account for those frames.
        last_window.record(summary)
        log.info("window holds only duplicates: no new request", extra=ctx)
        return
    request = await decompose_summary(llm_backend, summary, catalog, K)
    request.trace.CopyFrom(summary.trace)
    add_span(request.trace, "decomposer", started)
    await send_and_wait([(opt_requests, key.encode(), request.SerializeToString())])
    last_window.record(summary)
    log.info("request: k=%d brands=%s categories=%s colours=%s price=[%s, %s] relaxations=%d", request.k,
             list(request.constraints.brands), list(request.constraints.categories),
             list(request.constraints.colours),
             request.constraints.price_min if request.constraints.HasField("price_min") else "-",
             request.constraints.price_max if request.constraints.HasField("price_max") else "-",
             len(request.relaxations), extra=ctx)


@app.agent(summaries)
async def decompose_summaries(stream):
    await consumer.run(stream, handle)
