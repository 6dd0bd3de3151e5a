"""Faust wiring of the summarizer's model path (INTERAREC_SUMMARIZER_BACKEND=vllm); the domain parts are
vllm_backend.py (prompt, grounding, fallback) and dispatch.py (ordering and concurrency).

At-least-once with windows whose summary is still in flight:
- each distinct frame's model-sized data URL is kept in the `summarizer-frames` table (key
  "<session>/<frame offset>"), one changelog record per frame, so a session's state stays small;
- a closed window goes into the `summarizer-pending` table (key = session) before the frame that closed it
  counts as processed, and is handed to the OrderedDispatcher: many sessions' windows in flight, each
  session's in window order (a failed send is retried in place, so later windows wait for it);
- once its summary is sent (and the send awaited), the window and its frames leave both tables;
- a timer re-dispatches every pending window the dispatcher does not know: after a restart or rebalance
  (the tables are recovered from their changelogs). A summary sent just before a
  crash is then sent again with the same window_seq, which downstream consumers drop as a duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, MutableMapping

import faust
from prometheus_client import Gauge

from interarec.v1 import summaries_pb2
from services.common.backoff import Backoff
from services.common.catalog import Catalog
from services.common.llm import LlmClient, LlmSettings
from services.common.messages import add_span
from services.common.topics import FRAMES, session_partition
from services.core.reading.vllm_backend import VllmSummarizer, data_url, pick_frames, summarize_window
from services.core.reading.window import ClosedWindow, SessionState
from services.summarizer.dispatch import OrderedDispatcher

log = logging.getLogger("interarec.summarizer")
PENDING = Gauge("interarec_summarizer_model_windows_pending", "Closed windows waiting for or in a model call")
REDISPATCH_INTERVAL_S = 2.0
SEND_BACKOFF = Backoff(first_s=0.2, max_s=10.0)


def frame_key(session_id: str, frame_seq: int) -> str:
    return f"{session_id}/{frame_seq}"


class PendingWindows:
    """The at-least-once core, over any two mutable mappings (Faust tables in the worker, dicts in tests)."""

    def __init__(self, pending: MutableMapping, frames: MutableMapping, backend: VllmSummarizer | None,
                 catalog: Catalog, send: Callable[[str, summaries_pb2.BehaviourSummary], Awaitable[None]],
                 settings: LlmSettings, max_windows: int):
        self.pending, self.frames = pending, frames
        self.backend, self.catalog, self.send, self.settings = backend, catalog, send, settings
        self.dispatcher: OrderedDispatcher | None = None
        self._max_windows = max_windows

    def _dispatcher(self) -> OrderedDispatcher:
        if self.dispatcher is None:  # created lazily: it belongs to the worker's running event loop
            self.dispatcher = OrderedDispatcher(self._max_windows)
        return self.dispatcher

    def frame_url(self, image) -> str:
        """CPU work (resize + JPEG): run it off the event loop."""
        return data_url(image, self.settings.max_pixels)

    def remember(self, session_id: str, frame_seq: int, url: str | None, state: SessionState,
                 closed: list[ClosedWindow]) -> None:
        """Keep a distinct frame's data URL if the window logic accepted it (open or just-closed window)."""
        if url is None:
            return
        accepted = any(frame_seq in w.frame_seqs for w in closed) or (
            state.window is not None and frame_seq in state.window.frame_seqs)
        if accepted:
            self.frames[frame_key(session_id, frame_seq)] = url

    def hand_over(self, key: str, tenant: str, session_id: str, window: ClosedWindow,
                  gateway_span: list[int] | None, partition: int) -> None:
        """Record the closed window as pending under the session key (before its frame counts as done), then
        dispatch it. A frame retried after a failure closes the same window again: it is pending once."""
        entries = self.pending.get(key) or []
        if any(e["window"]["window_seq"] == window.window_seq for e in entries):
            return
        entry = {"tenant": tenant, "session_id": session_id, "partition": partition, "window": window.to_dict(),
                 "gateway": gateway_span}
        self.pending[key] = [*entries, entry]
        self._submit(key, entry)

    def _submit(self, session_id: str, entry: dict) -> None:
        seq = entry["window"]["window_seq"]
        self._dispatcher().submit(session_id, seq, lambda: self._summarize(session_id, entry))
        PENDING.set(len(self._dispatcher()))

    async def _summarize(self, session_id: str, entry: dict) -> None:
        window = ClosedWindow.from_dict(entry["window"])
        urls = [u for s in window.frame_seqs if (u := self.frames.get(frame_key(session_id, s)))]
        urls = [urls[i] for i in pick_frames(len(urls), self.settings.max_images)]
        # session_id here is the table key ("tenant/session"); the summary carries the bare session id.
        bare = entry.get("session_id") or session_id.partition("/")[2] or session_id
        summary = await summarize_window(self.backend, bare, entry["tenant"], window, urls, self.catalog)
        summary.frame_offsets.extend(window.frame_offsets)  # frame accounting (issue 5)
        summary.frames_partition = entry.get("partition", 0)
        if entry.get("gateway"):
            add_span(summary.trace, "gateway", *entry["gateway"])
        add_span(summary.trace, "summarizer", window.opened_ms)
        for attempt in itertools.count():
            # Retried in place, not re-dispatched: the session's later windows wait, so its order holds.
            try:
                await self.send(session_id, summary)
                break
            except Exception as exc:  # a failed send of any kind is retried the same way
                log.warning("summary send failed (attempt %d), retrying: %r", attempt + 1, exc,
                            extra={"session_id": session_id, "window_seq": window.window_seq})
                await asyncio.sleep(SEND_BACKOFF.delay_s(attempt + 1))
        # Sent and acknowledged: only now does the window stop being pending (no await in between).
        remaining = [e for e in self.pending.get(session_id) or [] if e["window"]["window_seq"] != window.window_seq]
        if remaining:
            self.pending[session_id] = remaining
        elif session_id in self.pending:
            del self.pending[session_id]
        for s in window.frame_seqs:
            if frame_key(session_id, s) in self.frames:
                del self.frames[frame_key(session_id, s)]
        PENDING.set(max(len(self._dispatcher()) - 1, 0))

    async def redispatch(self) -> None:
        """Dispatch pending windows nobody is working on (after recovery, or after a failed send)."""
        for session_id, entries in list(self.pending.items()):
            for entry in sorted(entries or [], key=lambda e: e["window"]["window_seq"]):
                if not self._dispatcher().pending(session_id, entry["window"]["window_seq"]):
                    log.info("re-dispatching pending window",
                             extra={"session_id": session_id, "window_seq": entry["window"]["window_seq"]})
                    self._submit(session_id, entry)


class ModelPath(PendingWindows):
    """PendingWindows over changelog-backed tables, with the model client from INTERAREC_LLM_*."""

    def __init__(self, app: faust.App, table_cls: type[faust.Table], catalog: Catalog,
                 send: Callable[[str, summaries_pb2.BehaviourSummary], Awaitable[None]], max_in_flight: int = 0):
        settings = LlmSettings.from_env()
        max_windows = max_in_flight or settings.max_in_flight  # INTERAREC_SUMMARIZER_MAX_IN_FLIGHT, 0: the LLM's
        frames = app.tables.add(FrameTable(app, name="summarizer-frames", default=None, key_type=str,
                                           partitions=FRAMES.partitions))
        pending = app.tables.add(table_cls(app, name="summarizer-pending", default=list, key_type=str,
                                           partitions=FRAMES.partitions))
        super().__init__(pending, frames, VllmSummarizer(LlmClient(settings, "summarizer"), catalog), catalog, send,
                         settings, max_windows)
        app.timer(interval=REDISPATCH_INTERVAL_S)(self.redispatch)
        app.task(self.backend.warm_up)


class FrameTable(faust.Table):
    """Frames are keyed "<session>/<offset>" but partitioned by the session, beside the session's state."""

    def partition_for_key(self, key: str) -> int:
        return session_partition(key.rsplit("/", 1)[0], FRAMES.partitions)
