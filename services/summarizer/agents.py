"""Faust wiring for the summarizer: decode, near-duplicate check, OCR off the event loop, windowing,
summary. The domain logic lives in imaging/ocr/grounding/window/summary (pure)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from faust.types import EventT
from prometheus_client import Counter, Histogram

from interarec.v1 import frames_pb2
from services.common.catalog import Catalog
from services.common.config import catalog_path
from services.common.messages import add_span, decode, now_ms
from services.common.metrics import LATENCY_BUCKETS
from services.common.worker import Consumer
from services.summarizer.app import IDLE_MS, OCR_WORKERS, WINDOW_FRAMES, app, frames, sessions, summaries
from services.summarizer.imaging import decode_image, dhash
from services.summarizer.ocr import OcrError
from services.summarizer.reader import FrameReader
from services.summarizer.summary import summarize
from services.summarizer.window import ClosedWindow, FrameMeta, SessionState, add_frame, close_idle, should_process

log = logging.getLogger("interarec.summarizer")
catalog = Catalog.load(catalog_path())
reader = FrameReader(catalog)  # region OCR + grounding, shop described by INTERAREC_SHOP_PROFILE
consumer = Consumer(app, "summarizer")
# OCR is CPU-bound (a tesseract subprocess per frame): never on the event loop.
ocr_pool = ThreadPoolExecutor(max_workers=OCR_WORKERS, thread_name_prefix="ocr")
# Guards each session's read-modify-write-emit against the idle timer doing the same between awaits.
# Critical sections are short (OCR happens before taking it), so one lock for all sessions is enough.
state_lock = asyncio.Lock()

FRAMES_TOTAL = Counter("interarec_summarizer_frames_total", "Frames by what happened to them", ["outcome"])
OCR_SECONDS = Histogram("interarec_summarizer_ocr_seconds", "OCR + grounding time per distinct frame",
                        buckets=LATENCY_BUCKETS)
WINDOWS_TOTAL = Counter("interarec_summarizer_windows_total", "Closed windows by reason", ["reason"])


def read_frame(image_bytes: bytes) -> tuple:
    image = decode_image(image_bytes)
    return image, dhash(image)


def observe(image, frame: frames_pb2.Frame, offset: int):
    return reader.observe(image, page_url=frame.page_url, frame_seq=offset, capture_ms=frame.capture_unix_ms)


async def emit(session_id: str, tenant: str, window: ClosedWindow, gateway_span: list[int] | None) -> None:
    summary = summarize(session_id, tenant, window, window.history, catalog)
    if gateway_span:  # the newest frame's hop through the gateway, so the trace covers every stage
        add_span(summary.trace, "gateway", *gateway_span)
    add_span(summary.trace, "summarizer", window.opened_ms)
    await summaries.send(key=session_id.encode(), value=summary.SerializeToString())
    WINDOWS_TOTAL.labels(reason=window.reason).inc()
    log.info("summary: %s", summary.narrative,
             extra={"session_id": session_id, "window_seq": window.window_seq})


async def handle(event: EventT) -> None:
    frame = decode(frames_pb2.Frame, event.value)
    sid = frame.session_id
    loop = asyncio.get_running_loop()
    # The Kafka offset, not the client's frame_seq, orders frames: it is monotonic per session (one
    # partition owns a session) and survives client restarts, so redelivered frames are recognised.
    meta = FrameMeta(frame_seq=event.message.offset, capture_ms=frame.capture_unix_ms, page_url=frame.page_url)
    image, hash_ = await loop.run_in_executor(ocr_pool, read_frame, frame.image)
    observation = None
    if should_process(SessionState.from_dict(sessions[sid].get("state")), meta, hash_):
        started = loop.time()
        try:
            observation = await loop.run_in_executor(ocr_pool, observe, image, frame, event.message.offset)
            FRAMES_TOTAL.labels(outcome="read").inc()
        except OcrError as exc:
            # The frame is fine, the OCR engine failed on it: it still counts towards the window (it
            # shows the shopper was there) but adds no signals. The image itself stays in the frames topic.
            log.warning("OCR failed, frame adds no signals: %s", exc, extra={"session_id": sid})
            FRAMES_TOTAL.labels(outcome="ocr_failed").inc()
        OCR_SECONDS.observe(loop.time() - started)
    else:
        FRAMES_TOTAL.labels(outcome="duplicate_or_replay").inc()
    async with state_lock:
        state = SessionState.from_dict(sessions[sid].get("state"))
        closed = add_frame(state, meta, hash_, observation, now_ms(), max_frames=WINDOW_FRAMES)
        spans = [[s.start_unix_ms, s.end_unix_ms] for s in frame.trace.stages if s.stage == "gateway"]
        this_span, previous_span = (spans[-1] if spans else None), sessions[sid].get("gateway")
        # Emit before saving: after a crash in between, the frame is redelivered and the same window_seq
        # is re-emitted (downstream drops the duplicate) instead of the summary being lost.
        for window in closed:
            # A page change closes the window before this frame; a full window closes with it.
            newest_is_this = window.frame_seqs[-1] == meta.frame_seq
            await emit(sid, frame.tenant, window, this_span if newest_is_this else previous_span)
        sessions[sid] = {"tenant": frame.tenant, "state": state.to_dict(), "gateway": this_span}


@app.agent(frames)
async def summarize_frames(stream):
    await consumer.run(stream, handle)


@app.timer(interval=0.5)
async def close_idle_windows() -> None:
    """A window also closes when its session went quiet: the shopper is dwelling or has left."""
    async with state_lock:
        now = now_ms()
        for sid, value in list(sessions.items()):
            open_window = (value.get("state") or {}).get("window")
            if not open_window or now - open_window["last_ms"] < IDLE_MS:
                continue  # cheap check first: most sessions have no open window most of the time
            state = SessionState.from_dict(value.get("state"))
            window = close_idle(state, now, IDLE_MS)
            if window is not None:
                await emit(sid, value.get("tenant", ""), window, value.get("gateway"))
                sessions[sid] = {**value, "state": state.to_dict()}
