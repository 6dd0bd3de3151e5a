"""Optimizer worker: optimization requests in, revenue-maximising MNL assortments out; feedback in, learned
attraction out. `build(settings)` creates everything (app, topics, tables, catalog, rules, solver threads,
changelog follower); nothing happens at import."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import faust

from services.common.catalog import Catalog
from services.common.topics import FEEDBACK, OPT_REQUESTS, RECOMMENDATIONS
from services.common.worker import Consumer, LastWindows, add_expiry_timer, make_app, raw_topic, send_and_wait
from services.core import business_rules
from services.optimizer.agents import OptimizerStage, register_agents
from services.optimizer.feedback_sync import ChangelogFollower
from services.optimizer.settings import OptimizerSettings


def build(settings: OptimizerSettings) -> faust.App:
    w = settings.worker
    app = make_app("optimizer", w, settings.port)
    opt_requests = raw_topic(app, OPT_REQUESTS.name)
    recommendations = raw_topic(app, RECOMMENDATIONS.name)
    # Highest window_seq published per tenant/session: a recommendation never goes backwards or repeats.
    last_window = LastWindows(app, "optimizer-last-window", OPT_REQUESTS.name)
    add_expiry_timer(app, [last_window], "optimizer", w.session_ttl_s * 1000)
    feedback = raw_topic(app, FEEDBACK.name)
    # Feedback counts (feedback.Counts as a JSON string) per "tenant/product_id@partition" (feedback.table_key):
    # each key is written only by the owner of its feedback partition, with the offset it has counted up to, so
    # redeliveries are skipped and the changelog replays to the same totals. Every replica also reads this
    # changelog in full (feedback_sync.py) to learn from the partitions it does not own.
    # Hourly segments: compaction (one record per key) only reaches closed segments, and every replica replays
    # the changelog at start. Faust applies topic configs when it creates the changelog.
    feedback_counts = app.Table("optimizer-feedback", default=str, key_type=str, value_type=str,
                                partitions=FEEDBACK.partitions, extra_topic_configs={"segment.ms": str(3600 * 1000)})
    catalog = Catalog.load(w.catalog_path)
    rules = settings.rules  # per tenant, merged into each request
    business_rules.check_against_catalog(rules, catalog)
    # Solving is CPU-bound: keep it off the event loop so heartbeats and commits keep flowing. Several threads
    # (numpy and HiGHS release the GIL) and a time limit on every solve: one slow request cannot hold the rest.
    solver_pool = ThreadPoolExecutor(max_workers=settings.solver_threads, thread_name_prefix="solver")
    stage = OptimizerStage(settings, catalog, rules, last_window, recommendations, feedback_counts, solver_pool,
                           send_and_wait)
    follower = ChangelogFollower(feedback_counts.changelog_topic_name, feedback_counts.partitions, w.kafka_bootstrap,
                                 stage.on_changelog_record, client_id="interarec-optimizer-feedback-sync")
    register_agents(app, opt_requests, feedback, stage, Consumer(app, "optimizer", w.retry), follower)
    return app
