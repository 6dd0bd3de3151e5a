"""Faust wiring for the optimizer; the MNL model, solvers and learner are pure modules (mnl.py, feedback.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from faust.types import EventT
from prometheus_client import Counter, Gauge, Histogram

from interarec.v1 import feedback_pb2, optimization_pb2, recommendations_pb2
from services.common import business_rules
from services.common.catalog import Catalog
from services.common.config import catalog_path
from services.common.messages import add_span, decode, now_ms
from services.common.metrics import LATENCY_BUCKETS
from services.common.worker import Consumer, send_and_wait
from services.optimizer.app import (
    LEARN_FROM_FEEDBACK,
    SOLVER,
    SOLVER_THREADS,
    TIME_LIMIT_S,
    app,
    feedback,
    feedback_counts,
    last_window,
    opt_requests,
    recommendations,
)
from services.optimizer.feedback import DEFAULT_PREDICTION, Counts, Learner
from services.optimizer.mnl import TIME_LIMIT, explain, solve_request

log = logging.getLogger("interarec.optimizer")
catalog = Catalog.load(catalog_path())
RULES = business_rules.load_from_env()  # per-tenant business rules, merged into each request as constraints
business_rules.check_against_catalog(RULES, catalog)
consumer = Consumer(app, "optimizer")
# Solving is CPU-bound: keep it off the event loop so heartbeats and commits keep flowing. Several threads
# (numpy and HiGHS release the GIL) and a time limit on every solve: one slow request cannot hold the rest.
solver_pool = ThreadPoolExecutor(max_workers=SOLVER_THREADS, thread_name_prefix="solver")
learner = Learner(n_products=len(catalog))
learner_loaded = False
# What the model predicted for each recommended item, so an impression adds the right exposure
# (feedback.py). Bounded: feedback arrives within minutes of its recommendation.
predictions: OrderedDict[tuple[str, int], tuple[str, dict[str, float]]] = OrderedDict()
MAX_PREDICTIONS = 50_000

END_TO_END = Histogram("interarec_optimizer_end_to_end_latency_seconds",
                       "From capture of the newest frame behind a recommendation to its publication",
                       buckets=LATENCY_BUCKETS)
SOLVE_SECONDS = Histogram("interarec_optimizer_solve_seconds", "Assortment solve time", ["solver"],
                          buckets=LATENCY_BUCKETS)
TIME_LIMIT_FALLBACKS = Counter("interarec_optimizer_time_limit_fallbacks_total",
                               "Solves that hit the time limit and published the best feasible answer found",
                               ["solver"])
FEEDBACK_PRODUCTS = Gauge("interarec_optimizer_feedback_products",
                          "Tenant-product pairs with learned feedback, as loaded from the persisted table")
FEEDBACK_CLICKS = Gauge("interarec_optimizer_feedback_clicks", "Clicks the learner has counted (all tenants)")
FEEDBACK_EVENTS = Counter("interarec_optimizer_feedback_events_total", "Feedback events learned from", ["event"])


def build_recommendation(request: optimization_pb2.OptimizationRequest,
                         theta=None) -> recommendations_pb2.Recommendation:
    """Runs in a solver thread; `theta` is the learned multiplier per catalog row (a private copy)."""
    solved = solve_request(catalog, request, solver=SOLVER, learned=theta, time_limit_s=TIME_LIMIT_S)
    assortment, candidates = solved.assortment, solved.candidates
    rec = recommendations_pb2.Recommendation(
        session_id=request.session_id, tenant=request.tenant, window_seq=request.window_seq,
        expected_revenue=assortment.expected_revenue, no_purchase_probability=assortment.no_purchase_probability,
        solver=assortment.solver, solve_ms=assortment.solve_ms, candidates=len(candidates), request=request,
        shaping_constraints=solved.shaping, solve_status=assortment.status,
    )
    reasons = explain(catalog, request, solved)
    for idx, prob, reason in zip(assortment.indices, assortment.choice_probabilities, reasons, strict=True):
        row = int(candidates[idx])
        p = catalog.products[row]
        rec.items.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category, colour=p.colour,
                      price=p.price, rating=p.rating, choice_probability=float(prob), image_url=f"/images/{p.image}",
                      reason=reason)
    rec.shaping_constraints.extend(f"rule {name}" for name in business_rules.explain(catalog, request, RULES))
    SOLVE_SECONDS.labels(solver=assortment.solver).observe(assortment.solve_ms / 1000)
    if assortment.status == TIME_LIMIT:
        TIME_LIMIT_FALLBACKS.labels(solver=assortment.solver).inc()
    return rec


def remember_predictions(rec: recommendations_pb2.Recommendation, theta) -> None:
    """The model's own prediction per item, without the learned multiplier (what the estimator compares
    clicks to). On the event loop only, like every learner update."""
    predicted = {}
    for item in rec.items:
        row = catalog.index[item.product_id]
        predicted[item.product_id] = item.choice_probability / (float(theta[row]) if theta is not None else 1.0)
    predictions[(rec.session_id, rec.window_seq)] = (rec.tenant, predicted)
    while len(predictions) > MAX_PREDICTIONS:
        predictions.popitem(last=False)


async def handle(event: EventT) -> None:
    started = now_ms()
    request = decode(optimization_pb2.OptimizationRequest, event.value)
    if last_window.is_stale(request, log):
        return
    key = last_window.key(request)
    ctx = {"session_id": key, "window_seq": request.window_seq}
    business_rules.apply_for_tenant(request, RULES)
    theta = learner.multipliers(request.tenant) if LEARN_FROM_FEEDBACK else None
    rec = await asyncio.get_running_loop().run_in_executor(solver_pool, build_recommendation, request, theta)
    remember_predictions(rec, theta)
    rec.trace.CopyFrom(request.trace)
    add_span(rec.trace, "optimizer", started)
    await send_and_wait([(recommendations, key.encode(), rec.SerializeToString())])
    last_window.record(request)
    if rec.trace.capture_unix_ms:
        END_TO_END.observe(max(0, now_ms() - rec.trace.capture_unix_ms) / 1000)
    log.info("recommended %d of %d candidates, expected revenue %.2f (%s, %.1f ms)", len(rec.items),
             rec.candidates, rec.expected_revenue, rec.solver, rec.solve_ms, extra=ctx)


def _load_learner() -> None:
    """Rebuild the in-memory learner from the recovered feedback table (once, after recovery)."""
    global learner_loaded
    totals: dict[tuple[str, int], Counts] = {}
    for key, value in feedback_counts.items():
        tenant_product = key.rsplit("@", 1)[0]
        tenant, _, product_id = tenant_product.partition("/")
        row = catalog.index.get(product_id)
        if row is None:
            continue
        c = Counts.from_json(value)
        t = totals.setdefault((tenant, row), Counts())
        t.exposure += c.exposure
        t.clicks += c.clicks
    for (tenant, row), counts in totals.items():
        learner.set_counts(tenant, row, counts)
    learner_loaded = True
    FEEDBACK_PRODUCTS.set(len(totals))
    FEEDBACK_CLICKS.set(sum(c.clicks for c in totals.values()))
    log.info("feedback learner loaded: %d products with feedback", len(totals))


async def handle_feedback(event: EventT) -> None:
    if not learner_loaded:
        _load_learner()
    fb = decode(feedback_pb2.Feedback, event.value)
    row = catalog.index.get(fb.product_id)
    if row is None:
        raise ValueError(f"feedback for unknown product {fb.product_id!r}")
    tenant, predicted = predictions.get((fb.session_id, fb.window_seq), (fb.tenant, {}))
    tenant = fb.tenant or tenant
    prediction = predicted.get(fb.product_id, DEFAULT_PREDICTION)
    key = f"{tenant}/{fb.product_id}@{event.message.partition}"
    counts = Counts.from_json(feedback_counts[key])
    offset = event.message.offset
    if offset <= counts.offset:  # at-least-once redelivery of an event already counted
        log.info("skipping redelivered feedback at offset %d", offset, extra={"session_id": fb.session_id})
        return
    counts.add(fb.event, prediction)
    counts.offset = offset
    feedback_counts[key] = counts.to_json()
    if fb.event == feedback_pb2.FEEDBACK_EVENT_CLICK:
        FEEDBACK_CLICKS.inc()
    if fb.event == feedback_pb2.FEEDBACK_EVENT_IMPRESSION and counts.impressions == 1:
        FEEDBACK_PRODUCTS.inc()
    learner.observe(tenant, row, fb.event, prediction)
    FEEDBACK_EVENTS.labels(event=feedback_pb2.FeedbackEvent.Name(fb.event)).inc()


@app.timer(interval=1.0)
async def load_learner_after_recovery() -> None:
    """Restore what was learned before a restart as soon as the tables are recovered."""
    if not learner_loaded and app.tables.recovery.completed.is_set():
        _load_learner()


@app.agent(opt_requests)
async def optimize_requests(stream):
    await consumer.run(stream, handle)


@app.agent(feedback)
async def learn_from_feedback(stream):
    await consumer.run(stream, handle_feedback)
