"""Faust wiring for the optimizer; the MNL model and solvers live in mnl.py (pure)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from faust.types import EventT
from prometheus_client import Histogram

from interarec.v1 import optimization_pb2, recommendations_pb2
from services.common.catalog import Catalog
from services.common.config import catalog_path
from services.common.messages import add_span, decode, now_ms
from services.common.metrics import LATENCY_BUCKETS
from services.common.worker import Consumer, send_and_wait
from services.optimizer.app import SOLVER, app, last_window, opt_requests, recommendations
from services.optimizer.mnl import recommend

log = logging.getLogger("interarec.optimizer")
catalog = Catalog.load(catalog_path())
consumer = Consumer(app, "optimizer")
# Solving is CPU-bound: keep it off the event loop so heartbeats and commits keep flowing.
solver_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="solver")

END_TO_END = Histogram("interarec_optimizer_end_to_end_latency_seconds",
                       "From capture of the newest frame behind a recommendation to its publication",
                       buckets=LATENCY_BUCKETS)
SOLVE_SECONDS = Histogram("interarec_optimizer_solve_seconds", "Assortment solve time", ["solver"],
                          buckets=LATENCY_BUCKETS)


def build_recommendation(request: optimization_pb2.OptimizationRequest) -> recommendations_pb2.Recommendation:
    assortment, candidates = recommend(catalog, request, solver=SOLVER)
    rec = recommendations_pb2.Recommendation(
        session_id=request.session_id, tenant=request.tenant, window_seq=request.window_seq,
        expected_revenue=assortment.expected_revenue, no_purchase_probability=assortment.no_purchase_probability,
        solver=assortment.solver, solve_ms=assortment.solve_ms, candidates=len(candidates), request=request,
    )
    for idx, prob in zip(assortment.indices, assortment.choice_probabilities, strict=True):
        p = catalog.products[int(candidates[idx])]
        rec.items.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category, colour=p.colour,
                      price=p.price, rating=p.rating, choice_probability=float(prob), image_url=f"/images/{p.image}")
    SOLVE_SECONDS.labels(solver=assortment.solver).observe(assortment.solve_ms / 1000)
    return rec


async def handle(event: EventT) -> None:
    started = now_ms()
    request = decode(optimization_pb2.OptimizationRequest, event.value)
    if last_window.is_stale(request, log):
        return
    key = last_window.key(request)
    ctx = {"session_id": key, "window_seq": request.window_seq}
    rec = await asyncio.get_running_loop().run_in_executor(solver_pool, build_recommendation, request)
    rec.trace.CopyFrom(request.trace)
    add_span(rec.trace, "optimizer", started)
    await send_and_wait([(recommendations, key.encode(), rec.SerializeToString())])
    last_window.record(request)
    if rec.trace.capture_unix_ms:
        END_TO_END.observe(max(0, now_ms() - rec.trace.capture_unix_ms) / 1000)
    log.info("recommended %d of %d candidates, expected revenue %.2f (%s, %.1f ms)", len(rec.items),
             rec.candidates, rec.expected_revenue, rec.solver, rec.solve_ms, extra=ctx)


@app.agent(opt_requests)
async def optimize_requests(stream):
    await consumer.run(stream, handle)
