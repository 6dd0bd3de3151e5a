"""The optimizer's stage: the MNL model and solvers are core modules (services/core/assortment), the learner
is feedback.py; this is the handlers and their Faust registration. `OptimizerStage` receives everything it
touches, so the same handlers run under Faust (app.py: build) and in the in-memory stage driver of the tests.

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
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

import faust
from faust.serializers import codecs
from faust.types import EventT
from prometheus_client import Counter, Gauge, Histogram

from interarec.v1 import feedback_pb2, optimization_pb2, recommendations_pb2
from services.common.catalog import Catalog
from services.common.keys import check_tenant
from services.common.messages import add_span, decode, now_ms
from services.common.metrics import E2E_LATENCY_BUCKETS, LATENCY_BUCKETS
from services.common.worker import Consumer
from services.core import business_rules
from services.core.assortment import recommendation
from services.core.assortment.mnl import TIME_LIMIT
from services.optimizer.feedback import DEFAULT_PREDICTION, Counts, FeedbackFold, Learner, table_key
from services.optimizer.settings import OptimizerSettings

log = logging.getLogger("interarec.optimizer")
Send = Callable[[list[tuple[Any, bytes, bytes]]], Awaitable[Any]]
# Before the changelog has been read to its end at start, a request waits at most this long for it, so the
# first recommendations after a restart already use everything learned.
STARTUP_SYNC_WAIT_S = 10.0
# What the model predicted for each recommended item, so an impression adds the right exposure
# (feedback.py). Bounded: feedback arrives within minutes of its recommendation.
MAX_PREDICTIONS = 50_000

END_TO_END = Histogram("interarec_optimizer_end_to_end_latency_seconds",
                       "From capture of the newest frame behind a recommendation to its publication",
                       buckets=E2E_LATENCY_BUCKETS)
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



class OptimizerStage:
    """Requests -> recommendations (solved in `solver_pool`), feedback -> the learner (on the event loop)."""

    def __init__(self, settings: OptimizerSettings, catalog: Catalog,
                 rules: dict[str, tuple[business_rules.Rule, ...]], last_window, out_topic, feedback_counts,
                 solver_pool: Executor, send: Send):
        self.settings, self.catalog, self.rules = settings, catalog, rules
        self.last_window, self.out_topic, self.feedback_counts = last_window, out_topic, feedback_counts
        self.solver_pool, self.send = solver_pool, send
        self.learner = Learner(n_products=len(catalog))
        self.fold = FeedbackFold(self.learner, catalog.index)
        self.predictions: OrderedDict[tuple[str, int], tuple[str, dict[str, float]]] = OrderedDict()
        self.synced = asyncio.Event()  # set once the feedback-counts changelog was read to its end
        self._sync_wait_deadline: float | None = None

    def _publish_fold(self) -> None:
        FEEDBACK_CLICKS.set(self.fold.clicks)
        FEEDBACK_PRODUCTS.set(self.fold.products)

    def on_changelog_record(self, key: bytes | None, value: bytes | None) -> None:
        """A feedback_counts changelog record (Faust's JSON encoding of the str key and value), from any replica."""
        if key is None:
            return
        table = self.feedback_counts
        try:
            text = codecs.loads(table.key_serializer, key)
            counts = None if value is None else Counts.from_json(codecs.loads(table.value_serializer, value))
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring an undecodable feedback-counts record (%r)", exc)
            FEEDBACK_SYNC_RECORDS.labels(outcome="undecodable").inc()
            return
        changed = self.fold.apply(text, counts)
        FEEDBACK_SYNC_RECORDS.labels(outcome="applied" if changed else "unchanged").inc()
        if changed:
            self._publish_fold()

    def build_recommendation(self, request: optimization_pb2.OptimizationRequest,
                             theta=None) -> recommendations_pb2.Recommendation:
        """Runs in a solver thread; `theta` is the learned multiplier per catalog row (a private copy)."""
        s = self.settings
        rec = recommendation.build_recommendation(self.catalog, request, self.rules.get(request.tenant, ()),
                                                  solver=s.solver, learned=theta, time_limit_s=s.time_limit_s,
                                                  image_base=s.image_base_url)
        SOLVE_SECONDS.labels(solver=rec.solver).observe(rec.solve_ms / 1000)
        if rec.solve_status == TIME_LIMIT:
            TIME_LIMIT_FALLBACKS.labels(solver=rec.solver).inc()
        return rec

    def remember_predictions(self, rec: recommendations_pb2.Recommendation, theta) -> None:
        """The model's own prediction per item, without the learned multiplier (what the estimator compares
        clicks to). On the event loop only, like every learner update."""
        predicted = {}
        for item in rec.items:
            row = self.catalog.index[item.product_id]
            predicted[item.product_id] = item.choice_probability / (float(theta[row]) if theta is not None else 1.0)
        self.predictions[(rec.session_id, rec.window_seq)] = (rec.tenant, predicted)
        while len(self.predictions) > MAX_PREDICTIONS:
            self.predictions.popitem(last=False)

    async def handle(self, event: EventT) -> None:
        started = now_ms()
        request = decode(optimization_pb2.OptimizationRequest, event.value)
        if self.last_window.is_stale(request, log):
            return
        key = self.last_window.key(request)
        ctx = {"session_id": key, "window_seq": request.window_seq}
        business_rules.apply_for_tenant(request, self.rules)
        await self.wait_for_feedback_sync()
        theta = self.learner.multipliers(request.tenant) if self.settings.learn_from_feedback else None
        rec = await asyncio.get_running_loop().run_in_executor(self.solver_pool, self.build_recommendation, request,
                                                               theta)
        self.remember_predictions(rec, theta)
        rec.trace.CopyFrom(request.trace)
        add_span(rec.trace, "optimizer", started)
        await self.send([(self.out_topic, key.encode(), rec.SerializeToString())])
        self.last_window.record(request)
        if rec.trace.capture_unix_ms:
            END_TO_END.observe(max(0, now_ms() - rec.trace.capture_unix_ms) / 1000)
        log.info("recommended %d of %d candidates, expected revenue %.2f (%s, %.1f ms)", len(rec.items),
                 rec.candidates, rec.expected_revenue, rec.solver, rec.solve_ms, extra=ctx)

    async def wait_for_feedback_sync(self) -> None:
        """At start, give the changelog follower a bounded time to restore what was learned before."""
        if self.synced.is_set():
            return
        if self._sync_wait_deadline is None:
            self._sync_wait_deadline = time.monotonic() + STARTUP_SYNC_WAIT_S
        remaining = self._sync_wait_deadline - time.monotonic()
        if remaining > 0:
            try:
                await asyncio.wait_for(self.synced.wait(), remaining)
            except TimeoutError:
                log.warning("feedback learned before not fully restored after %.0f s; recommending meanwhile",
                            STARTUP_SYNC_WAIT_S)

    async def handle_feedback(self, event: EventT) -> None:
        fb = decode(feedback_pb2.Feedback, event.value)
        row = self.catalog.index.get(fb.product_id)
        if row is None:
            raise ValueError(f"feedback for unknown product {fb.product_id!r}")
        tenant, predicted = self.predictions.get((fb.session_id, fb.window_seq), (fb.tenant, {}))
        tenant = check_tenant(fb.tenant or tenant)
        prediction = predicted.get(fb.product_id, DEFAULT_PREDICTION)
        key = table_key(tenant, fb.product_id, event.message.partition)
        counts = Counts.from_json(self.feedback_counts[key])
        offset = event.message.offset
        if offset <= counts.offset:  # at-least-once redelivery of an event already counted
            log.info("skipping redelivered feedback at offset %d", offset, extra={"session_id": fb.session_id})
            return
        counts.add(fb.event, prediction)
        counts.offset = offset
        self.feedback_counts[key] = counts.to_json()  # the changelog record every other replica folds in
        if self.fold.apply(key, counts):  # learnt here at once; the record's echo from the changelog is a no-op
            self._publish_fold()
        FEEDBACK_EVENTS.labels(event=feedback_pb2.FeedbackEvent.Name(fb.event)).inc()


def register_agents(app: faust.App, opt_requests: faust.TopicT, feedback: faust.TopicT, stage: OptimizerStage,
                    consumer: Consumer, follower) -> None:
    """The two agents and the task that follows every replica's feedback counts (feedback_sync.py)."""

    @app.task
    async def follow_feedback_counts() -> None:
        task = asyncio.ensure_future(follower.run())
        try:
            await follower.caught_up.wait()
            stage.synced.set()
            FEEDBACK_SYNCED.set(1)
            await task
        finally:
            task.cancel()

    @app.agent(opt_requests, name="services.optimizer.agents.optimize_requests")
    async def optimize_requests(stream):
        await consumer.run(stream, stage.handle)

    @app.agent(feedback, name="services.optimizer.agents.learn_from_feedback")
    async def learn_from_feedback(stream):
        await consumer.run(stream, stage.handle_feedback)
