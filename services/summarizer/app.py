"""Summarizer worker: frames in, behaviour summaries out, per-session window state in a table. `build(settings)`
creates everything (app, topics, tables, catalog, reader, OCR threads, model path); nothing happens at import."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import faust

from services.common.catalog import Catalog
from services.common.topics import FRAMES, SUMMARIES
from services.common.worker import Consumer, SessionTable, make_app, raw_topic, send_and_wait, session_table
from services.core.reading.reader import FrameReader
from services.summarizer.agents import SummarizeStage, register_agents
from services.summarizer.settings import SummarizerSettings


def build(settings: SummarizerSettings) -> faust.App:
    # Latest wins sees only what waits in the stream buffer: it must hold a whole lookahead batch.
    app = make_app("summarizer", settings.worker, settings.port, stream_buffer=max(32, settings.lookahead))
    frames = raw_topic(app, FRAMES.name)
    summaries = raw_topic(app, SUMMARIES.name)
    # tenant/session key -> the session's window state (agents.SummarizeStage); only the agent writes it.
    sessions = session_table(app, "summarizer-sessions", default=dict)
    catalog = Catalog.load(settings.worker.catalog_path)
    reader = FrameReader(catalog, settings.shop_profile)  # region OCR + grounding, the shop as its profile says
    # OCR is CPU-bound (libtesseract per thread, without the GIL): never on the event loop.
    ocr_pool = ThreadPoolExecutor(max_workers=settings.ocr_workers, thread_name_prefix="ocr")
    stage = SummarizeStage(settings, catalog, reader, sessions, ocr_pool, summaries, send_and_wait)
    if settings.backend == "vllm":  # model path (issue 6): closed windows go to a multimodal model
        from services.summarizer.model_path import ModelPath

        stage.model_path = ModelPath(app, SessionTable, catalog, stage.send_summary, settings.max_in_flight)
    register_agents(app, frames, stage, Consumer(app, "summarizer", settings.worker.retry))
    return app
