"""Decomposer worker: behaviour summaries in, validated optimization requests out. `build(settings)` creates
everything (app, topics, table, catalog, model client); nothing happens at import."""

from __future__ import annotations

import faust

from services.common.catalog import Catalog
from services.common.topics import OPT_REQUESTS, SUMMARIES
from services.common.worker import Consumer, LastWindows, add_expiry_timer, make_app, raw_topic, send_and_wait
from services.core.decompose.llm_backend import make_decomposer
from services.decomposer.agents import DecomposeStage, register_agents
from services.decomposer.settings import DecomposerSettings


def build(settings: DecomposerSettings) -> faust.App:
    app = make_app("decomposer", settings.worker, settings.port)
    summaries = raw_topic(app, SUMMARIES.name)
    opt_requests = raw_topic(app, OPT_REQUESTS.name)
    # Highest window_seq turned into a request, per tenant/session: duplicates and stale windows stop here.
    last_window = LastWindows(app, "decomposer-last-window", SUMMARIES.name)
    add_expiry_timer(app, [last_window], "decomposer", settings.worker.session_ttl_s * 1000)
    catalog = Catalog.load(settings.worker.catalog_path)
    # Model path (issue 6): the LLM with the rules as explicit fallback for backend "llm", the rules alone else.
    decomposer = make_decomposer(settings.backend, catalog, settings.k)
    if (warm_up := getattr(decomposer, "warm_up", None)) is not None:
        app.task(warm_up)
    stage = DecomposeStage(decomposer, last_window, opt_requests, send_and_wait)
    register_agents(app, summaries, stage, Consumer(app, "decomposer", settings.worker.retry))
    return app
