"""Faust wiring for the optimizer; the MNL model, solvers and learner are pure modules (mnl.py, feedback.py).

Feedback: the agent counts the events of the feedback partitions this replica owns into the
`feedback_counts` table (exactly, per tenant, product and partition) and folds them into its learner at
once; every replica also follows that table's changelog (feedback_sync.py), so each learns from all
feedback, whichever replica consumed it, and a restarted replica relearns everything from Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from faust.serializers import codecs
from faust.types import EventT
from prometheus_client import Counter, Gauge, Histogram

from interarec.v1 import feedback_pb2, optimization_pb2, recommendations_pb2
from services.common.catalog import Catalog
from services.common.config import catalog_path, kafka_bootstrap
from services.common.keys import check_tenant
from services.common.messages import add_span, decode, now_ms
from services.common.metrics import LATENCY_BUCKETS
from services.common.worker import Consumer, send_and_wait
from services.core import business_rules
from services.core.assortment import recommendation
from services.core.assortment.mnl import TIME_LIMIT
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
from services.optimizer.feedback import DEFAULT_PREDICTION, Counts, FeedbackFold, Learner, table_key
from services.optimizer.feedback_sync import ChangelogFollower

log = logging.getLogger("interarec.optimizer")
catalog = Catalog.load(catalog_path())
RULES = business_rules.load_from_env()  # per-tenant business rules, merged into each request as constraints
business_rules.check_against_catalog(RULES, catalog)
consumer = Consumer(app, "optimizer")
# Solving is CPU-bound: keep it off the event loop so heartbeats and commits keep flowing. Several threads
# (numpy and HiGHS release the GIL) and a time limit on every solve: one slow request cannot hold the rest.
solver_pool = ThreadPoolExecutor(max_workers=SOLVER_THREADS, thread_name_prefix="solver")
learner = Learner(n_products=len(catalog))
fold = FeedbackFold(learner, catalog.index)
# Before the changelog has been read to its end at start, a request waits at most this long for it, so the
# first recommendations after a restart already use everything learned.
STARTUP_SYNC_WAIT_S = 10.0
_sync_wait_deadline: float | None = None
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
                          "Tenant-product pairs with feedback in this replica's learner (from every replica)")
FEEDBACK_CLICKS = Gauge("interarec_optimizer_feedback_clicks",
                        "Clicks in this replica's learner, all tenants, whichever replica consumed them")
FEEDBACK_EVENTS = Counter("interarec_optimizer_feedback_events_total",
                          "Feedback events consumed and counted by this replica (its own partitions)", ["event"])
FEEDBACK_SYNC_RECORDS = Counter("interarec_optimizer_feedback_sync_records_total",
                                "Feedback-counts changelog records read by this replica", ["outcome"])
FEEDBACK_SYNCED = Gauge("interarec_optimizer_feedback_synced",
                        "1 once this replica has read the feedback-counts changelog to its end at start")


def _publish_fold() -> None:
    FEEDBACK_CLICKS.set(fold.clicks)
    FEEDBACK_PRODUCTS.set(fold.products)


def on_changelog_record(key: bytes | None, value: bytes | None) -> None:
    """A feedback_counts changelog record (Faust's JSON encoding of the str key and value), from any replica."""
    if key is None:
        return
    try:
        text = codecs.loads(feedback_counts.key_serializer, key)
        counts = None if value is None else Counts.from_json(codecs.loads(feedback_counts.value_serializer, value))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring an undecodable feedback-counts record (%r)", exc)
        FEEDBACK_SYNC_RECORDS.labels(outcome="undecodable").inc()
        return
    changed = fold.apply(text, counts)
    FEEDBACK_SYNC_RECORDS.labels(outcome="applied" if changed else "unchanged").inc()
    if changed:
        _publish_fold()


follower = ChangelogFollower(feedback_counts.changelog_topic_name, feedback_counts.partitions, kafka_bootstrap(),
                             on_changelog_record, client_id="interarec-optimizer-feedback-sync")


def build_recommendation(request: optimization_pb2.OptimizationRequest,
                         theta=None) -> recommendations_pb2.Recommendation:
    """Runs in a solver thread; `theta` is the learned multiplier per catalog row (a private copy)."""
    rec = recommendation.build_recommendation(catalog, request, RULES.get(request.tenant, ()), solver=SOLVER,
                                              learned=theta, time_limit_s=TIME_LIMIT_S)
    SOLVE_SECONDS.labels(solver=rec.solver).observe(rec.solve_ms / 1000)
    if rec.solve_status == TIME_LIMIT:
        TIME_LIMIT_FALLBACKS.labels(solver=rec.solver).inc()
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
    await wait_for_feedback_sync()
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


async def wait_for_feedback_sync() -> None:
    """At start, give the changelog follower a bounded time to restore what was learned before."""
    global _sync_wait_deadline
    if follower.caught_up.is_set():
        return
    if _sync_wait_deadline is None:
        _sync_wait_deadline = time.monotonic() + STARTUP_SYNC_WAIT_S
    remaining = _sync_wait_deadline - time.monotonic()
    if remaining > 0:
        try:
            await asyncio.wait_for(follower.caught_up.wait(), remaining)
        except TimeoutError:
            log.warning("feedback learned before not fully restored after %.0f s; recommending meanwhile",
                        STARTUP_SYNC_WAIT_S)


async def handle_feedback(event: EventT) -> None:
    fb = decode(feedback_pb2.Feedback, event.value)
    row = catalog.index.get(fb.product_id)
    if row is None:
        raise ValueError(f"feedback for unknown product {fb.product_id!r}")
    tenant, predicted = predictions.get((fb.session_id, fb.window_seq), (fb.tenant, {}))
    tenant = check_tenant(fb.tenant or tenant)
    prediction = predicted.get(fb.product_id, DEFAULT_PREDICTION)
    key = table_key(tenant, fb.product_id, event.message.partition)
    counts = Counts.from_json(feedback_counts[key])
    offset = event.message.offset
    if offset <= counts.offset:  # at-least-once redelivery of an event already counted
        log.info("skipping redelivered feedback at offset %d", offset, extra={"session_id": fb.session_id})
        return
    counts.add(fb.event, prediction)
    counts.offset = offset
    feedback_counts[key] = counts.to_json()  # the changelog record every other replica folds in
    if fold.apply(key, counts):  # learnt here at once; the record's echo from the changelog is then a no-op
        _publish_fold()
    FEEDBACK_EVENTS.labels(event=feedback_pb2.FeedbackEvent.Name(fb.event)).inc()


@app.task
async def follow_feedback_counts() -> None:
    """Every replica reads every partition's feedback counts (feedback_sync.py)."""
    task = asyncio.ensure_future(follower.run())
    try:
        await follower.caught_up.wait()
        FEEDBACK_SYNCED.set(1)
        await task
    finally:
        task.cancel()


@app.agent(opt_requests)
async def optimize_requests(stream):
    await consumer.run(stream, handle)


@app.agent(feedback)
async def learn_from_feedback(stream):
    await consumer.run(stream, handle_feedback)
