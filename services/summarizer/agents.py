"""The summarizer's stage: decode, near-duplicate check, OCR off the event loop, windowing, summary. The domain
logic lives in services/core/reading (imaging/ocr/grounding/window/summary) and activity.py (pure); this is the
handler and its Faust registration. `SummarizeStage` receives everything it touches (catalog, reader, session
table, OCR pool, output topic, send function, clock), so the same handler runs under Faust (app.py: build) and
in the in-memory stage driver of the unit tests (tests/stage_driver.py).

One writer per session: only the agent reads-modifies-writes a session's state, one record at a time, and
no lock is held anywhere (a lock held across a Kafka send once froze every session when one send stalled).
Idle-window closes and TTL expiry reach the agent as control records on the frames topic (see activity.py),
so they are ordered with the session's frames and follow the same at-least-once path.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Executor
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import EventT
from prometheus_client import Counter, Gauge, Histogram

from interarec.v1 import frames_pb2
from services.common.catalog import Catalog
from services.common.deadletters import replay_of
from services.common.keys import check_tenant, session_key, split_session_key
from services.common.messages import BadMessage, add_span, decode, now_ms
from services.common.metrics import LATENCY_BUCKETS, sessions_expired_total
from services.common.topics import FRAMES, session_partition
from services.common.worker import Consumer, owned_partitions
from services.core.reading.imaging import decode_image, dhash
from services.core.reading.ocr import OcrError, OcrTimeout
from services.core.reading.reader import FrameReader
from services.core.reading.summary import summarize
from services.core.reading.vllm_backend import FALLBACKS  # noqa: F401 -- exported in every mode: alerts read it
from services.core.reading.window import (
    ClosedWindow,
    FrameMeta,
    SessionState,
    add_frame,
    close_idle,
    should_process,
    skip_frame,
    unskip,
    visit_read,
)
from services.summarizer.activity import ActivityIndex
from services.summarizer.batch_stats import BatchLog, BatchStats
from services.summarizer.latest import Pace, Plan, Waiting, backlogged, lag_ms, schedule, ticks_first
from services.summarizer.settings import SummarizerSettings

log = logging.getLogger("interarec.summarizer")
Send = Callable[[list[tuple[Any, bytes, bytes]]], Awaitable[Any]]
Process = Callable[[EventT, Callable[[EventT], Awaitable[Any]]], Awaitable[Any]]
TICK_INTERVAL_S = 0.5
# How long the agent waits for a lookahead batch to fill when nothing more is waiting: the latency latest-wins
# adds to a frame when the worker keeps up.
LOOKAHEAD_WITHIN_S = 0.02
# What a read and a skip cost before the first is measured (s), and how fast the measured averages follow.
READ_S_INITIAL, SKIP_S_INITIAL, COST_SMOOTHING = 0.3, 0.005, 0.2
# Sessions whose last read time the agent remembers for taking turns (latest.py rule 3); the longest unread go.
SERVED_REMEMBERED = 10_000

FRAMES_TOTAL = Counter("interarec_summarizer_frames_total", "Frames by what happened to them", ["outcome"])
OCR_SECONDS = Histogram("interarec_summarizer_ocr_seconds", "OCR + grounding time per distinct frame",
                        buckets=LATENCY_BUCKETS)
WINDOWS_TOTAL = Counter("interarec_summarizer_windows_total", "Closed windows by reason", ["reason"])
SESSIONS = Gauge("interarec_summarizer_sessions", "Sessions in the table on the partitions this worker owns")
EXPIRED = sessions_expired_total("summarizer")


def read_frame(image_bytes: bytes) -> tuple:
    image = decode_image(image_bytes)
    return image, dhash(image)


def frame_key(frame: frames_pb2.Frame) -> str:
    try:
        return session_key(check_tenant(frame.tenant), frame.session_id)
    except ValueError as exc:
        raise BadMessage(f"frame has no valid tenant: {exc}") from None


def appended_ms(event: EventT) -> float:
    """When the broker appended the record (ms; 0 if unknown): the gateway producer's timestamp, the server's
    clock, not the shopper's device."""
    appended_s = getattr(event.message, "timestamp", None)
    return appended_s * 1000 if appended_s else 0.0


class SummarizeStage:
    """Frames (and tick control records) -> behaviour summaries. `sessions` maps a tenant/session key to
    {"tenant", "session_id", "state": window.SessionState as JSON, "gateway": newest frame's gateway span,
    "seen_ms": processing time of the session's newest record (TTL)}; only `handle` writes it.

    `model_path` (INTERAREC_SUMMARIZER_BACKEND=vllm, issue 6) takes closed windows (pending table + ordered
    concurrent dispatch, embedded fallback) instead of their being summarised inline; None for "embedded"."""

    def __init__(self, settings: SummarizerSettings, catalog: Catalog, reader: FrameReader,
                 sessions: MutableMapping, ocr_pool: Executor, out_topic, send: Send, model_path=None,
                 clock: Callable[[], int] = now_ms):
        self.catalog, self.reader, self.sessions, self.ocr_pool = catalog, reader, sessions, ocr_pool
        self.out_topic, self.send, self.model_path, self.clock = out_topic, send, model_path, clock
        self.window_frames, self.idle_ms = settings.window_frames, settings.idle_ms
        self.lookahead, self.stale_ms, self.max_wait_ms = settings.lookahead, settings.stale_ms, settings.max_wait_ms
        self.read_s, self.skip_s = READ_S_INITIAL, SKIP_S_INITIAL  # measured as frames are read or skipped
        self.take_turns = settings.take_turns == "on"
        self.outage_keep_ms = settings.outage_keep_ms
        self.served: dict[str, float] = {}  # key -> processing clock of its last read, oldest first (rule 3)
        # key -> its newest frame, skipped (accounted) but held to be read in the next batch (rule 3). At most one
        # per session and `lookahead` in all: the frames' images stay in memory until then.
        self.held: dict[str, EventT] = {}
        # partition -> when this worker took its first batch of it since it was assigned (processing clock, ms):
        # frames appended before are an outage's backlog, not lag built while reading (latest.py rule 3).
        self.reading_since: dict[int, float] = {}
        # Wakes the agent for the held frames when nothing else arrives (register_agents: a tick on the frames topic).
        self.nudge: Callable[[str], Awaitable[Any]] | None = None
        self.unsaved: dict[str, tuple[EventT, dict, SessionState]] = {}  # key -> (event, value, state): skip()
        self.session_ttl_ms = settings.worker.session_ttl_s * 1000
        # A tick lost on the way is re-sent after this long; not sooner, since under an OCR backlog the first
        # tick may simply still be queued behind the session's frames.
        self.retick_ms = max(self.idle_ms, 15_000)
        self.activity = ActivityIndex()
        self.batch_log = BatchLog()  # where the batches' time goes, one log line every few seconds
        self.spent = BatchStats()  # the current batch's: what its reads' time went on (`_handle` adds to it)

    async def send_summary(self, key: str, summary) -> None:
        """Send one summary under its session key and wait for the broker's ack (the model path's send)."""
        await self.send([(self.out_topic, key.encode(), summary.SerializeToString())])

    def observe(self, image, frame: frames_pb2.Frame, offset: int):
        return self.reader.observe(image, page_url=frame.page_url, frame_seq=offset, capture_ms=frame.capture_unix_ms,
                                   session=frame_key(frame))  # the panel's position is per session

    async def emit(self, key: str, tenant: str, session_id: str, windows: list[ClosedWindow], gateway_spans: list,
                   partition: int) -> None:
        """Publish the summaries of closed windows and wait until Kafka acknowledged all of them (or, on the
        model path, until they are recorded as pending: the model path sends them once the model answered)."""
        if self.model_path is not None:
            for window, gateway_span in zip(windows, gateway_spans, strict=True):
                self.model_path.hand_over(key, tenant, session_id, window, gateway_span, partition)
                WINDOWS_TOTAL.labels(reason=window.reason).inc()
            return
        out = []
        for window, gateway_span in zip(windows, gateway_spans, strict=True):
            summary = summarize(session_id, tenant, window, window.history, self.catalog)
            summary.frame_offsets.extend(window.frame_offsets)
            summary.frames_skipped_stale = window.skipped_stale
            summary.frames_partition = partition
            if gateway_span:  # the newest frame's hop through the gateway, so the trace covers every stage
                add_span(summary.trace, "gateway", *gateway_span)
            add_span(summary.trace, "summarizer", window.opened_ms)
            out.append((summary, window))
        await self.send([(self.out_topic, key.encode(), s.SerializeToString()) for s, _ in out])
        for summary, window in out:
            WINDOWS_TOTAL.labels(reason=window.reason).inc()
            # why it closed and how old its newest frame was: where a slow recommendation's time went
            log.info("summary (%s, newest frame %.1f s old): %s", window.reason,
                     (window.closed_ms - window.last_capture_ms) / 1000, summary.narrative,
                     extra={"session_id": key, "window_seq": window.window_seq})

    def save(self, key: str, tenant: str, session_id: str, state: SessionState, gateway, seen_ms: int) -> None:
        self.sessions[key] = {"tenant": tenant, "session_id": session_id, "state": state.to_dict(),
                              "gateway": gateway, "seen_ms": seen_ms}
        self.activity.record(key, tenant, session_id, seen_ms, state.window.last_ms if state.window else None)

    @staticmethod
    def _meta(event: EventT, frame: frames_pb2.Frame) -> FrameMeta:
        # The Kafka offset, not the client's frame_seq, orders frames: it is monotonic per session (one
        # partition owns a session) and survives client restarts, so redelivered frames are recognised.
        original = replay_of(event.headers)
        return FrameMeta(frame_seq=event.message.offset, capture_ms=frame.capture_unix_ms, page_url=frame.page_url,
                         replay_of=original[2] if original and original[0] == FRAMES.name else None)

    def waiting(self, event: EventT) -> Waiting | None:
        """(session key, page URL, append time) of a frame record, None for a tick or a record `handle` must judge."""
        try:
            frame = decode(frames_pb2.Frame, event.value)
            if frame.control == frames_pb2.FRAME_CONTROL_TICK:
                return None
            appended = appended_ms(event)
            since = self.reading_since.get(event.message.partition)
            return Waiting(frame_key(frame), frame.page_url, appended,
                           backlog=since is not None and 0 < appended < since)
        except BadMessage:
            return None

    @staticmethod
    def session_of(event: EventT, ref: Waiting | None) -> tuple[str | None, bool]:
        """(session key, whether it is a tick) of a batch's record; (None, False) for one `handle` must judge."""
        if ref is not None:
            return ref.session, False
        try:
            frame = decode(frames_pb2.Frame, event.value)
            return frame_key(frame), frame.control == frames_pb2.FRAME_CONTROL_TICK
        except BadMessage:
            return None, False

    def pace(self) -> Pace:
        return Pace(now_ms=self.clock(), target_ms=self.max_wait_ms or float("inf"), read_s=self.read_s,
                    skip_s=self.skip_s, outage_keep_ms=self.outage_keep_ms, stale_ms=self.stale_ms)

    def plan(self, events: list[EventT], refs: list[Waiting | None] | None = None,
             pace: Pace | None = None) -> Plan:
        """For a lookahead batch: True for each frame to skip unread (latest.py: a newer frame of its page visit
        is in the batch, or its session has a newer visit there and the reads would keep the worker behind), and
        what the plan expects the reads to cost. `refs`: the records' `waiting` if known already (decoding a frame
        record is not free)."""
        pace = pace or self.pace()
        served = self.served.get if self.take_turns else None
        refs = refs if refs is not None else [self.waiting(e) for e in events]
        first = {}
        for ref, event in zip(refs, events, strict=True):
            if ref is not None:
                first.setdefault(ref.session, event)

        def visit_was_read(key: str, url: str) -> bool:
            # The table finds the session's partition from the current event (see register_agents).
            token = _current_event.set(weakref.ref(first[key]))
            try:
                value = self.sessions.get(key) or {}
            finally:
                _current_event.reset(token)
            return bool(value) and visit_read(SessionState.from_dict(value.get("state")),
                                               FrameMeta(frame_seq=-1, capture_ms=-1, page_url=url))

        return schedule(refs, pace, visit_was_read, served)

    async def batch(self, events: list[EventT], process: Process) -> None:
        """Handle one lookahead batch as latest wins plans it (latest.py), after the frames held from the previous
        batch (rule 3): each record is read (`handle`, or `read_held` for a held one), skipped (`skip`), or, if it
        is its session's newest and must wait its turn, skipped and held (`hold`). `process` runs a handler on a
        record of this batch (the agent's Consumer.process: retries, then a dead letter). Every skip is accounted
        before the batch is acknowledged."""
        timer = asyncio.get_running_loop().time
        started = timer()
        held = sorted(self.held.values(), key=lambda e: (e.message.partition, e.message.offset))
        self.held = {}
        records = [*held, *events]
        for event in events:
            self.reading_since.setdefault(event.message.partition, self.clock())
        refs = [self.waiting(e) for e in records]
        last = {ref.session: i for i, ref in enumerate(refs) if ref is not None}
        pace = self.pace()
        stats = BatchStats(batches=1, records=len(records), full=int(len(events) >= self.lookahead),
                           backlog=int(backlogged(refs, pace)), max_lag_ms=lag_ms(refs, pace))
        planned = self.plan(records, refs, pace)
        skips = planned.skip
        stats.plan_s = timer() - started
        stats.planned_s = planned.reads_s
        self.spent = stats
        for i in ticks_first([self.session_of(e, ref) for e, ref in zip(records, refs, strict=True)]):
            event, ref, skip = records[i], refs[i], skips[i]
            # Faust's tables find a key's changelog partition from the current event (RocksDB asserts it), which
            # take_events does not set per record. Only this task's context variable is set: the stream's own
            # current_event belongs to the buffer filling in the background.
            token = _current_event.set(weakref.ref(event))
            at = timer()
            try:
                hold = skip and ref is not None and last[ref.session] == i
                if i < len(held):  # accounted as skipped already
                    if hold:
                        self.held[ref.session] = event  # type: ignore[union-attr]
                    elif skip:
                        FRAMES_TOTAL.labels(outcome="skipped_stale").inc()  # superseded while held
                    else:
                        await self.read_held(event)
                else:
                    await process(event, self.hold if hold else self.skip if skip else self.handle)
            finally:
                _current_event.reset(token)
                if skip:
                    stats.skip_s += timer() - at
                    stats.holds += hold
                    stats.skips += not hold
                else:
                    stats.read_s += timer() - at
                    stats.reads += ref is not None
        self.flush()  # before take_events acknowledges the batch
        while len(self.held) > self.lookahead:  # bounded memory: the first held go for good (accounted)
            self.held.pop(next(iter(self.held)))
            FRAMES_TOTAL.labels(outcome="skipped_stale").inc()
        if self.held and self.nudge is not None:
            await self.nudge(next(iter(self.held)))
        stats.batch_s = timer() - started
        if line := self.batch_log.add(stats, timer()):
            log.info(line)

    def drop_held(self, owned: set[int]) -> None:
        """After a rebalance: forget the held frames of partitions no longer owned (their new owner reads the
        sessions from the changelog, where these frames are accounted as skipped). When reading a partition began
        is kept: a rebalance that gives it back (the group settling after a restart revokes and reassigns) is a
        pause of seconds, and the frames it was behind on before are still overload's, not an outage's."""
        for key, event in list(self.held.items()):
            if event.message.partition not in owned:
                del self.held[key]
                FRAMES_TOTAL.labels(outcome="skipped_stale").inc()

    def measured(self, read: bool, seconds: float) -> None:
        """Follow what a read (decode, hash, OCR) or a skip costs on this machine now: the plan's budget."""
        if read:
            self.read_s += COST_SMOOTHING * (seconds - self.read_s)
        else:
            self.skip_s += COST_SMOOTHING * (seconds - self.skip_s)

    def waited_ms(self, event: EventT) -> float:
        """How long the frame waited in the frames topic (0 if unknown). Measured on the server's clock (the
        record's timestamp, set by the gateway's producer), not on the shopper's device."""
        appended = appended_ms(event)
        return self.clock() - appended if appended else 0.0

    async def hold(self, event: EventT) -> None:
        """A session's newest frame that waits for its turn (latest.py rule 3): accounted as skipped now (so a crash
        loses no frame's accounting), and `batch` keeps it to read in the next batch (`read_held`). Counted in
        the frames metric once that is settled (read, or skipped after all)."""
        if await self.skip(event, counted=False):
            self.held[frame_key(decode(frames_pb2.Frame, event.value))] = event

    async def skip(self, event: EventT, counted: bool = True) -> bool:
        """A frame a newer one supersedes (latest.py): accounted in the session's window, not read. The state is
        kept in memory until the session's next handled record or the batch's end (`flush`): one table write
        per session and batch instead of one per skipped frame, which under overload cost most of the time."""
        started = asyncio.get_running_loop().time()
        frame = decode(frames_pb2.Frame, event.value)
        key = frame_key(frame)
        if key in self.unsaved:
            _, value, state = self.unsaved[key]
        else:
            value = self.sessions.get(key) or {}
            state = SessionState.from_dict(value.get("state"))
        now = self.clock()
        if skip_frame(state, self._meta(event, frame), now):
            if counted:
                FRAMES_TOTAL.labels(outcome="skipped_stale").inc()
            value = {**value, "tenant": frame.tenant, "session_id": frame.session_id, "seen_ms": now}
            self.unsaved[key] = (event, value, state)
            self.measured(False, asyncio.get_running_loop().time() - started)
            return True
        FRAMES_TOTAL.labels(outcome="duplicate_or_replay").inc()
        return False

    def flush(self, key: str | None = None) -> None:
        """Write the states `skip` kept in memory: one session's (before its next record is handled) or all (at
        the end of a batch, before it is acknowledged: a crash before that redelivers the whole batch)."""
        for k in [key] if key is not None else list(self.unsaved):
            pending = self.unsaved.pop(k, None)
            if pending is None:
                continue
            event, value, state = pending
            token = _current_event.set(weakref.ref(event))  # the table's partition is the event's (RocksDB)
            try:
                self.save(k, value["tenant"], value["session_id"], state, value.get("gateway"), value["seen_ms"])
            finally:
                _current_event.reset(token)

    async def handle(self, event: EventT) -> None:
        await self._handle(event, held=False)

    async def read_held(self, event: EventT) -> None:
        """Read a frame held for its turn (`hold`), unless a newer frame of its session was accounted meanwhile:
        then it stays accounted as skipped. Not retried nor dead-lettered: it is accounted already, and a failed
        read leaves it so (a dead letter would account it a second time when replayed)."""
        try:
            await self._handle(event, held=True)
        except Exception as exc:  # noqa: BLE001 -- the skip's accounting stands; only this view is lost
            log.warning("a held frame could not be read, it stays skipped: %r", exc,
                        extra={"session_id": (event.key or b"").decode("utf-8", "replace")})
            FRAMES_TOTAL.labels(outcome="skipped_stale").inc()

    async def _handle(self, event: EventT, held: bool) -> None:
        frame = decode(frames_pb2.Frame, event.value)
        key = frame_key(frame)
        self.flush(key)
        if frame.control == frames_pb2.FRAME_CONTROL_TICK:
            await self.on_tick(key, frame, event.message.partition)
            return
        sid = frame.session_id
        loop = asyncio.get_running_loop()
        meta = self._meta(event, frame)
        # The agent is this session's only writer and handles one record at a time: nothing else changes the
        # state between this read and the save below, though OCR and the sends await.
        value = self.sessions.get(key) or {}
        state = SessionState.from_dict(value.get("state"))
        if held and not unskip(state, meta):
            FRAMES_TOTAL.labels(outcome="skipped_stale").inc()
            return
        revisit = visit_read(state, meta)
        if self.stale_ms and self.waited_ms(event) > self.stale_ms and revisit:
            # Behind real time: a frame of a page visit already read could at most add a scrolled view of it.
            # Latest wins: skip it unread (accounted) and spend the OCR on the frames still to come. Written now:
            # without lookahead batches (LOOKAHEAD=1) no batch end would flush it before the ack.
            await self.skip(event)
            self.flush(key)
            return
        decoding = loop.time()
        image, hash_ = await loop.run_in_executor(self.ocr_pool, read_frame, frame.image)
        spent = self.spent
        spent.decode_s += loop.time() - decoding
        observation = url = None
        if should_process(state, meta, hash_):
            if self.model_path is not None:  # the frame as the model will see it
                url = await loop.run_in_executor(self.ocr_pool, self.model_path.frame_url, image)
            started = loop.time()
            try:
                observation = await loop.run_in_executor(self.ocr_pool, self.observe, image, frame,
                                                         event.message.offset)
                FRAMES_TOTAL.labels(outcome="read").inc()
            except OcrTimeout:
                # A starved engine, not an unreadable frame: retry the frame (Consumer backoff, then a dead
                # letter with its reason). Taking it as "no signals" lost product views: the gateway drops
                # exact repeats, so a page visit often has this one frame and nothing else to read.
                raise
            except OcrError as exc:
                # The frame is fine, the OCR engine failed on it: it still counts towards the window (it
                # shows the shopper was there) but adds no signals. The image itself stays in the frames topic.
                log.warning("OCR failed, frame adds no signals: %s", exc, extra={"session_id": key})
                FRAMES_TOTAL.labels(outcome="ocr_failed").inc()
            OCR_SECONDS.observe(loop.time() - started)
            spent.ocr_s += loop.time() - started
            spent.ocr_reads += 1
            self.measured(True, loop.time() - decoding)
            self.served.pop(key, None)
            self.served[key] = self.clock()  # newest last: the first ones are the longest unread
            if len(self.served) > SERVED_REMEMBERED:
                del self.served[next(iter(self.served))]
        else:
            FRAMES_TOTAL.labels(outcome="duplicate_or_replay").inc()
        now = self.clock()
        closed = add_frame(state, meta, hash_, observation, now, max_frames=self.window_frames)
        if self.model_path is not None:
            self.model_path.remember(key, meta.frame_seq, url, state, closed)
        spans = [[s.start_unix_ms, s.end_unix_ms] for s in frame.trace.stages if s.stage == "gateway"]
        this_span, previous_span = (spans[-1] if spans else None), value.get("gateway")
        # A page change closes the window before this frame; a full window closes with it.
        gateway = [this_span if w.frame_seqs and w.frame_seqs[-1] == meta.frame_seq else previous_span
                   for w in closed]
        # Emit (and wait for the acks) before saving: after a crash in between, the frame is redelivered and the
        # same window (same window_seq: it derives from offsets) is re-emitted, and downstream drops the
        # duplicate, instead of the summary being lost. A failed send raises: Consumer retries the whole frame.
        emitting = loop.time()
        if closed:
            await self.emit(key, frame.tenant, sid, closed, gateway, event.message.partition)
        saving = loop.time()
        self.save(key, frame.tenant, sid, state, this_span, now)
        spent.emit_s += saving - emitting
        spent.save_s += loop.time() - saving
        if revisit:
            spent.revisits += 1
            spent.revisit_s += loop.time() - decoding

    async def on_tick(self, key: str, tick: frames_pb2.Frame, partition: int) -> None:
        """Close the session's window if it is still idle; expire the session if it is idle past its TTL."""
        value = self.sessions.get(key)
        if not value:
            self.activity.forget(key)
            return
        now = self.clock()
        state = SessionState.from_dict(value.get("state"))
        window = close_idle(state, now, self.idle_ms)
        tenant, sid = value.get("tenant", tick.tenant), value.get("session_id", tick.session_id)
        if window is not None:
            emitting = asyncio.get_running_loop().time()
            await self.emit(key, tenant, sid, [window], [value.get("gateway")], partition)
            self.spent.emit_s += asyncio.get_running_loop().time() - emitting
        if now - value.get("seen_ms", now) >= self.session_ttl_ms:
            del self.sessions[key]  # a tombstone in the changelog: the session's state is gone everywhere
            self.activity.forget(key)
            EXPIRED.inc()
            log.info("session expired after %d s idle", self.session_ttl_ms // 1000, extra={"session_id": key})
        elif window is not None:
            self.save(key, tenant, sid, state, value.get("gateway"), value.get("seen_ms", now))

    async def rebuild_activity(self, owned: set[int]) -> None:
        """After a rebalance: forget sessions on partitions no longer owned, learn those on newly owned ones."""
        activity = self.activity
        new = owned - (activity.partitions or set())
        activity.retain(lambda key: session_partition(key, FRAMES.partitions) in owned)
        activity.partitions = set(owned)
        if not new:
            return
        keys = [k for k in list(self.sessions.keys()) if session_partition(k, FRAMES.partitions) in new]
        now = self.clock()
        for i, key in enumerate(keys):
            value = self.sessions.get(key) or {}
            window = (value.get("state") or {}).get("window")
            tenant, _, sid = key.partition("/")
            activity.record(key, value.get("tenant", tenant), value.get("session_id", sid),
                            value.get("seen_ms", now), window["last_ms"] if window else None)
            if i % 100 == 99:
                await asyncio.sleep(0)  # a large table must not hold the event loop (heartbeats share it)

    def due_ticks(self) -> list[tuple[str, frames_pb2.Frame]]:
        """(key, tick control record) for the sessions whose window is idle or whose TTL passed (activity.py)."""
        now = self.clock()
        SESSIONS.set(len(self.activity))
        due = self.activity.due(now, self.idle_ms, self.session_ttl_ms, self.retick_ms)
        return [(key, frames_pb2.Frame(session_id=a.session_id, tenant=a.tenant, capture_unix_ms=now,
                                       control=frames_pb2.FRAME_CONTROL_TICK))
                for key in due if (a := self.activity.sessions[key])]


def register_agents(app: faust.App, frames: faust.TopicT, stage: SummarizeStage, consumer: Consumer) -> None:
    @app.agent(frames, name="services.summarizer.agents.summarize_frames")
    async def summarize_frames(stream):
        if stage.lookahead <= 1:
            await consumer.run(stream, stage.handle)
            return
        # Latest wins: take what already waits (take_events acks a batch only after every record of it was
        # handled or dead-lettered, so at-least-once holds) and skip the frames a newer one supersedes.
        async for events in stream.take_events(stage.lookahead, within=LOOKAHEAD_WITHIN_S):
            if stage.held:  # nothing else depends on the assignment: no need to ask for it on every batch
                stage.drop_held(owned_partitions(app, FRAMES.name))
            await stage.batch(list(events), consumer.process)

    async def nudge(key: str) -> None:
        """Held frames wait for the next batch: a tick (a no-op unless the session is idle) makes sure one comes."""
        tenant, sid = split_session_key(key)
        tick = frames_pb2.Frame(session_id=sid, tenant=tenant, capture_unix_ms=now_ms(),
                                control=frames_pb2.FRAME_CONTROL_TICK)
        await frames.send(key=key.encode(), value=tick.SerializeToString())

    stage.nudge = nudge

    @app.timer(interval=TICK_INTERVAL_S)
    async def tick_idle_sessions() -> None:
        """Ask the agent to close idle windows and expire idle sessions (see activity.py). Never writes state."""
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return
        owned = owned_partitions(app, FRAMES.name)
        if owned != stage.activity.partitions:
            await stage.rebuild_activity(owned)
        for key, tick in stage.due_ticks():
            try:
                await frames.send(key=key.encode(), value=tick.SerializeToString())  # a lost tick is re-sent
            except Exception as exc:  # noqa: BLE001 -- the timer must keep running while the broker is away
                log.warning("could not queue a tick: %r", exc, extra={"session_id": key})
                return
