"""Freshness of what the shopper sees (issues 17 and 18): a page visit's first read is summarised at once, and a
summarizer that falls behind reads only the newest frame of each page visit waiting for it (latest wins), with
every skipped frame accounted in a summary."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from interarec.v1 import frames_pb2, summaries_pb2
from services.common.topics import FRAMES, SUMMARIES
from services.core.reading import filters as chips
from services.core.reading.grounding import Observation
from services.core.reading.reader import FrameReader
from services.core.reading.window import FrameMeta, SessionState, add_frame, close_idle, skip_frame, unskip
from services.summarizer import agents
from services.summarizer.latest import Pace, Waiting, plan, schedule, superseded, ticks_first
from services.summarizer.settings import SummarizerSettings
from tests.stage_driver import Event, Message, StageDriver
from tests.unit.test_summarizer_domain import jpeg, make_catalog, render_page

CATALOG = make_catalog()
RECS = [CATALOG.by_id["P09914"], CATALOG.by_id["P05521"]]


def meta(seq: int, url: str = "http://shop/p/P01234") -> FrameMeta:
    return FrameMeta(frame_seq=seq, capture_ms=1_000 * seq, page_url=url)


def product(pid: str | None) -> Observation:
    return Observation(kind="product", product_id=pid, product_confidence=0.95 if pid else 0.0)


# ---------------------------------------------------------------- a visit's first read closes its window


def test_a_product_view_is_summarised_with_the_frame_that_names_the_product() -> None:
    state = SessionState()
    url = "http://shop/p/P05521"
    assert add_frame(state, meta(1, url), 0, product(None), now_ms=0) == []  # half-rendered: nothing yet
    closed = add_frame(state, meta(2, url), 1 << 40, product("P05521"), now_ms=500)
    assert [(c.reason, c.frame_offsets, c.window_seq) for c in closed] == [("read", [1, 2], 3)]
    assert state.window is None and state.seen_product_ids == ["P05521"]
    # a later read of the same visit (scrolled to the reviews) is no new visit: it gathers until idle or a change
    assert add_frame(state, meta(3, url), 2**64 - 1, product("P05521"), now_ms=1_000) == []
    rest = close_idle(state, now_ms=4_000, idle_ms=2_500)
    assert rest is not None and rest.reason == "idle" and rest.window_seq == 4
    # a listing read with a filter is what its page is for too
    listing = Observation(kind="listing", category="Footwear", filters=[chips.term("brand", "Norda")])
    assert listing.grounded
    assert [c.reason for c in add_frame(state, meta(5, "http://shop/c/footwear?brand=Norda"), 7, listing,
                                        now_ms=5_000)] == ["read"]


# ---------------------------------------------------------------- latest wins


def test_only_the_newest_frame_of_each_page_visit_in_a_batch_is_read() -> None:
    a, b = "demo/s-1", "demo/s-2"
    batch = [Waiting(s, u) for s, u in [(a, "http://shop/p/P1"), (a, "http://shop/p/P1#reviews"),
                                        (b, "http://shop/p/P1")]]
    batch += [None] + [Waiting(s, u) for s, u in [(a, "http://shop/p/P1"), (a, "http://shop/p/P2"),
                                                  (a, "http://shop/p/P1"), (b, "http://shop/")]]
    # s-1's first visit of P1 keeps its newest frame (index 4); its visit to P2 and its return to P1 are visits
    # of their own, so a page the shopper opened is never lost; s-2's two pages are kept; a tick is never skipped
    assert superseded(batch) == [True, True, False, False, False, False, False, False]
    assert superseded([]) == [] and superseded([None, Waiting(a, "u")]) == [False, False]
    # when the summarizer keeps up (and with no lag target) the plan skips exactly these
    assert plan(batch, Pace(now_ms=0, target_ms=float("inf"), read_s=0.3)) == superseded(batch)


def visits(session: str, pages: list[str], first_ms: float, gap_ms: float = 1_000,
           frames_per_visit: int = 3) -> list[Waiting]:
    """One session's frames, `frames_per_visit` per page, appended `gap_ms` apart from `first_ms` on."""
    urls = [f"http://shop/p/{p}" for p in pages for _ in range(frames_per_visit)]
    return [Waiting(session, url, first_ms + i * gap_ms) for i, url in enumerate(urls)]


def test_an_outage_backlog_the_worker_can_read_is_read_visit_by_visit() -> None:
    """After a worker restart: 18 s of two sessions' frames wait, most far older than the 3 s lag target, the
    newest 2 s. Reading one frame per page visit (6 reads of 0.5 s) fits in the 3 s the batch may take plus the 1 s
    left below the target, so every visit is read: only the older frames within a visit are skipped."""
    now = 100_000.0
    batch = visits("demo/a", ["P1", "P2", "P3"], now - 20_000, gap_ms=2_000)
    batch += visits("demo/b", ["P4", "P5", "P6"], now - 18_000, gap_ms=2_000)
    skip = plan(batch, Pace(now_ms=now, target_ms=3_000, read_s=0.5))
    read = [f.url for f, s in zip(batch, skip, strict=True) if not s]
    assert read == [f"http://shop/p/P{i}" for i in range(1, 7)]


def test_a_short_outage_backlog_keeps_every_visit_whatever_the_budget() -> None:
    """After a crash: one session's 14 s of frames, five product pages, the newest 11 s old against a 1.5 s target,
    and a restart's slow first reads (0.5 s). Rule 2's budget is spent (the lag is far above the target), which
    shed every older visit: a product the shopper opened was lost. The floor reads an outage's older visits that
    waited at most OUTAGE_KEEP_MS whatever the budget; older ones, and overload's frames, are still shed."""
    now = 100_000.0
    frames = visits("demo/a", ["P1", "P2", "P3", "P4", "P5"], now - 25_000)  # visits' newest 23, 20, 17, 14, 11 s old
    outage = [Waiting(w.session, w.url, w.appended_ms, backlog=True) for w in frames]

    def read(batch: list[Waiting], keep_ms: float) -> list[str]:
        pace = Pace(now_ms=now, target_ms=1_500, read_s=0.5, outage_keep_ms=keep_ms)
        return [w.url.rsplit("/", 1)[1] for w, s in zip(batch, plan(batch, pace), strict=True) if not s]

    assert read(outage, keep_ms=30_000) == ["P1", "P2", "P3", "P4", "P5"]
    assert read(outage, keep_ms=18_000) == ["P3", "P4", "P5"]  # a long outage: its last 18 s read visit by visit
    assert read(outage, keep_ms=0) == ["P5"]  # no floor: the session's newest visit only
    assert read(frames, keep_ms=30_000) == ["P5"]  # overload's frames: no floor


def test_under_overload_older_visits_are_shed_but_never_a_sessions_newest() -> None:
    """Sustained overload: 2 s of frames from four sessions, the newest already 8 s behind. Reading every visit
    (8 x 0.5 s) would put the worker further behind, so each session's older visit is skipped unread, and its
    newest is read however old it is; with time to spare, the newest of the older visits are kept first."""
    now = 100_000.0
    sessions = [f"demo/s{i}" for i in range(4)]
    batch = [w for i, s in enumerate(sessions)
             for w in visits(s, [f"P{i}0", f"P{i}1"], now - 10_000 + 10 * i, gap_ms=330)]
    batch.sort(key=lambda w: w.appended_ms)
    newest = {s: [w for w in batch if w.session == s][-1] for s in sessions}
    skip = plan(batch, Pace(now_ms=now, target_ms=3_000, read_s=0.5))
    read = [w for w, s in zip(batch, skip, strict=True) if not s]
    assert sorted(read, key=lambda w: w.session) == [newest[s] for s in sessions]
    # a worker within its target with time to spare reads the newest older visits too, then sheds the rest
    # 1.5 s behind: the batch may take its 1.68 s span plus the 1.5 s left below the target, 3.18 s: the four
    # newest visits (2 s) and two more
    pace = Pace(now_ms=max(w.appended_ms for w in batch) + 1_500, target_ms=3_000, read_s=0.5)
    read = [w.url for w, s in zip(batch, plan(batch, pace), strict=True) if not s]
    assert len(read) == 6 and {newest[s].url for s in sessions} <= set(read)
    assert set(read) - {newest[s].url for s in sessions} == {"http://shop/p/P20", "http://shop/p/P30"}
    # a session whose older visit its state already read costs nothing to keep (the frame waited past STALE_MS:
    # the handler skips it unread)
    already = plan(batch, Pace(now_ms=now, target_ms=3_000, read_s=0.5, stale_ms=1_500),
                   visit_read=lambda session, url: url.endswith("/P00"))
    assert [w.url for w, s in zip(batch, already, strict=True) if not s and w.session == "demo/s0"] == [
        "http://shop/p/P00", "http://shop/p/P01"]


def test_when_even_the_newest_visits_do_not_fit_sessions_take_turns() -> None:
    """Six sessions each on a new page, 0.5 s read each. The batch's newest frame waited 1.5 s of the 3 s target, so
    1.5 s of reads keep it within: the sessions read longest ago (never read: first) are read while that lasts,
    the newest frames of those read most recently are held (skipped in this batch, the agent reads them in the
    next). Far behind on an outage's backlog (rule 2's budget spent on frames appended before the worker was
    reading), no turns: every session's newest frame is read, as it is without `served` (TAKE_TURNS=off)."""
    sessions = [f"demo/s{i}" for i in range(6)]
    batch = [Waiting(s, f"http://shop/p/P{i}", 100_000.0 + 100 * i) for i, s in enumerate(sessions)]
    last_read = {"demo/s1": 10.0, "demo/s4": 20.0, "demo/s0": 30.0, "demo/s2": 40.0, "demo/s5": 50.0}  # s3: never
    behind = Pace(now_ms=100_500 + 1_500, target_ms=3_000, read_s=0.5)
    read = [w.session for w, s in zip(batch, plan(batch, behind, served=last_read.get), strict=True) if not s]
    assert read == ["demo/s1", "demo/s3", "demo/s4"]
    far_behind = Pace(now_ms=100_500 + 10_000, target_ms=3_000, read_s=0.5)
    outage = [Waiting(w.session, w.url, w.appended_ms, backlog=True) for w in batch]
    assert plan(outage, far_behind, served=last_read.get) == plan(outage, far_behind) == [False] * 6
    # a session whose page its state already read costs nothing once the handler skips it (waited past STALE_MS):
    # it is kept beside the ones read
    stale = Pace(now_ms=behind.now_ms, target_ms=3_000, read_s=0.5, stale_ms=1_000)
    free = plan(batch, stale, visit_read=lambda session, url: session == "demo/s5", served=last_read.get)
    assert [w.session for w, s in zip(batch, free, strict=True) if not s] == ["demo/s1", "demo/s3", "demo/s4",
                                                                                 "demo/s5"]
    # what the plan expects its reads to cost (the batch log's "reads planned"): three reads, s5's free
    assert schedule(batch, stale, visit_read=lambda session, url: session == "demo/s5",
                    served=last_read.get).reads_s == pytest.approx(1.5)
    # before that the handler reads it (a scrolled view): it costs a read like the others, so it waits its turn
    fresh = Pace(now_ms=behind.now_ms, target_ms=3_000, read_s=0.5, stale_ms=3_000)
    held = plan(batch, fresh, visit_read=lambda session, url: session == "demo/s5", served=last_read.get)
    assert [w.session for w, s in zip(batch, held, strict=True) if not s] == ["demo/s1", "demo/s3", "demo/s4"]
    assert schedule(batch, behind).reads_s == pytest.approx(3.0)  # no turns, no state looked up: six reads


def test_far_behind_under_overload_sessions_still_take_turns_one_read_a_batch() -> None:
    """The same six sessions 10 s behind, on frames that came while the worker was reading (overload, not an
    outage): reading every session's newest frame (3 s) while 6 s of frames arrive would leave it further behind
    after each batch, which is how a worker near its knee fell into a backlog and stayed there (p95 41.5 s). So
    turns go on, one read a batch (the session read longest ago) until the worker is back within its target;
    without `served` (TAKE_TURNS=off) every newest frame is still read."""
    sessions = [f"demo/s{i}" for i in range(6)]
    batch = [Waiting(s, f"http://shop/p/P{i}", 100_000.0 + 100 * i) for i, s in enumerate(sessions)]
    last_read = {"demo/s1": 10.0, "demo/s4": 20.0, "demo/s0": 30.0, "demo/s2": 40.0, "demo/s5": 50.0}  # s3: never
    far_behind = Pace(now_ms=100_500 + 10_000, target_ms=3_000, read_s=0.5)
    read = [w.session for w, s in zip(batch, plan(batch, far_behind, served=last_read.get), strict=True) if not s]
    assert read == ["demo/s3"]
    assert plan(batch, far_behind) == [False] * 6
    # one frame of the outage's backlog in the batch makes it the outage's: every session's newest read
    mixed = [Waiting(batch[0].session, batch[0].url, batch[0].appended_ms, backlog=True), *batch[1:]]
    assert plan(mixed, far_behind, served=last_read.get) == [False] * 6


def test_an_idle_tick_is_handled_before_other_sessions_records_of_its_batch() -> None:
    """A tick goes first unless a record of its own session precedes it; the rest keep their order."""
    batch = [("a", False), ("a", False), ("b", True), (None, False), ("a", True), ("c", False), ("c", True),
             ("d", True)]
    assert ticks_first(batch) == [2, 7, 0, 1, 3, 4, 5, 6]
    assert ticks_first([]) == [] and ticks_first([("a", False), ("b", False)]) == [0, 1]


def test_a_window_left_idle_closes_before_the_batch_reads_other_sessions_frames(pool):
    """Through the stage: s-2's window has been idle past IDLE_MS when a batch holds two product pages of s-1 and
    then s-2's tick. The tick is handled first, so s-2's idle summary goes out before s-1's reads (0.3-0.5 s each
    under load) instead of after them; s-1's pages are still read and every frame accounted."""
    driver, now = StageDriver(), [1_000_000]
    st, reads = recording_stage(pool, driver, now)
    scrolled = frames_pb2.Frame(session_id="s-2", tenant="demo", page_url="http://shop/p/P04410", capture_unix_ms=1_000,
                                image=jpeg(render_page(CATALOG.by_id["P01239"], RECS))).SerializeToString()
    tick = frames_pb2.Frame(session_id="s-2", tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)

    async def run() -> None:
        await st.handle(Event(b"demo/s-2", frame("P04410", "s-2"), Message(FRAMES.name, 0, 0)))  # read: its window
        await st.handle(Event(b"demo/s-2", scrolled, Message(FRAMES.name, 0, 1)))  # a later view: gathers
        now[0] += 3_000
        await st.batch([Event(b"demo/s-1", frame("P01234", "s-1"), Message(FRAMES.name, 0, 2)),
                        Event(b"demo/s-1", frame("P01239", "s-1"), Message(FRAMES.name, 0, 3)),
                        Event(b"demo/s-2", tick.SerializeToString(), Message(FRAMES.name, 0, 4))], direct)

    asyncio.run(run())
    sent = [summaries_pb2.BehaviourSummary.FromString(s.value) for s in driver.output(SUMMARIES.name)]
    in_batch = [(s.session_id, s.window_close_reason, list(s.frame_offsets)) for s in sent[1:]]
    assert in_batch[0] == ("s-2", "idle", [1])
    assert reads == [0, 1, 2, 3] and {"P01234", "P01239"} <= viewed([s for s in sent if s.session_id == "s-1"])


def test_a_skip_is_taken_back_only_while_the_frame_is_still_its_sessions_newest() -> None:
    state = SessionState()
    assert skip_frame(state, meta(4), now_ms=100)
    assert unskip(state, meta(4)) and state.window is None and state.skipped_stale == 0
    closed = add_frame(state, meta(4), 0, product("P01234"), now_ms=200)  # read after all: accounted once
    assert [(c.frame_offsets, c.skipped_stale, c.frames) for c in closed] == [([4], 0, 1)]
    assert skip_frame(state, meta(5), now_ms=300) and skip_frame(state, meta(6), now_ms=300)
    assert not unskip(state, meta(5))  # a newer frame was accounted since: the skip stands
    assert unskip(state, meta(6)) and state.window is not None and state.window.offsets == [5]
    assert not unskip(state, meta(6))  # taken back once only


def test_a_skipped_frame_is_accounted_in_the_next_summary_and_does_not_move_the_idle_timer() -> None:
    state = SessionState()
    assert skip_frame(state, meta(4), now_ms=100)
    assert skip_frame(state, meta(5), now_ms=200)
    closed = add_frame(state, meta(6), 0, product("P01234"), now_ms=300)
    assert [(c.reason, c.frame_offsets, c.skipped_stale, c.frames) for c in closed] == [("read", [4, 5, 6], 2, 1)]
    assert state.skipped_stale == 2 and state.frames_seen == 3
    assert not skip_frame(state, meta(5), now_ms=400)  # a redelivered frame is not counted twice
    assert state.replays_ignored == 1 and state.window is None
    # skipped frames alone: a window that closes on idle from its opening, like one of duplicates only
    assert skip_frame(state, meta(7), now_ms=1_000)
    assert close_idle(state, now_ms=3_000, idle_ms=2_500) is None
    idle = close_idle(state, now_ms=3_500, idle_ms=2_500)
    assert idle is not None and idle.frame_offsets == [7] and idle.skipped_stale == 1 and idle.window_seq == 8
    assert SessionState.from_dict(state.to_dict()) == state


@pytest.fixture
def pool():
    with ThreadPoolExecutor(1) as executor:
        yield executor


def frame(product_id: str, session: str) -> bytes:
    page = render_page(CATALOG.by_id[product_id], RECS)
    return frames_pb2.Frame(session_id=session, tenant="demo", page_url=f"http://shop/p/{product_id}",
                            capture_unix_ms=1_000, image=jpeg(page)).SerializeToString()


def recording_stage(pool, driver: StageDriver, now: list[int], settings: SummarizerSettings | None = None):
    """A summarizer stage on the given clock whose reads (the offsets it sends through OCR) are recorded, in order."""
    st = agents.SummarizeStage(settings or SummarizerSettings(), CATALOG, FrameReader(CATALOG), {}, pool,
                               SUMMARIES.name, driver.send, clock=lambda: now[0])
    reads: list[int] = []
    observe = st.observe
    st.observe = lambda image, f, offset: (reads.append(offset), observe(image, f, offset))[1]
    return st, reads


def test_a_lagging_stage_reads_the_newest_frame_of_each_visit_and_accounts_the_stale_ones(pool):
    """What the agent does with a lookahead batch (register_agents: take_events, plan, skip or handle)."""
    driver, now = StageDriver(), [1_000_000]
    st, reads = recording_stage(pool, driver, now, SummarizerSettings(idle_ms=2500))
    records = [("s-1", "P01234")] * 3 + [("s-1", "P01239"), ("s-2", "P01234")]
    events = [Event(f"demo/{s}".encode(), frame(pid, s), Message(FRAMES.name, 0, offset))
              for offset, (s, pid) in enumerate(records)]
    tick = frames_pb2.Frame(session_id="s-1", tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
    events.append(Event(b"demo/s-1", tick.SerializeToString(), Message(FRAMES.name, 0, len(events))))

    asyncio.run(st.batch(events, direct))
    assert reads == [2, 3, 4]  # two stale frames of s-1's first visit were never read
    by_session: dict[bytes, list] = {}
    for sent in driver.output(SUMMARIES.name):
        by_session.setdefault(sent.key, []).append(summaries_pb2.BehaviourSummary.FromString(sent.value))
    first, second = by_session[b"demo/s-1"]
    assert (list(first.frame_offsets), first.frames_skipped_stale, first.window_close_reason) == ([0, 1, 2], 2, "read")
    assert "P01234" in {v.product_id for v in first.viewed_products}
    assert (list(second.frame_offsets), second.frames_skipped_stale) == ([3], 0)
    assert "P01239" in {v.product_id for v in second.viewed_products}
    assert [list(s.frame_offsets) for s in by_session[b"demo/s-2"]] == [[4]]
    accounted = sorted(o for summaries in by_session.values() for s in summaries for o in s.frame_offsets)
    assert accounted == [0, 1, 2, 3, 4]  # every frame is in a summary's accounting


@dataclass
class Stamped:
    """A frames-topic record position with the broker's append time (Faust's Message.timestamp, seconds)."""

    topic: str
    partition: int
    offset: int
    timestamp: float


def test_a_frame_of_a_visit_already_read_is_skipped_once_it_waited_too_long(pool):
    driver, now = StageDriver(), [1_000_000]
    settings = SummarizerSettings(idle_ms=2500, stale_ms=1500, max_wait_ms=3000)
    st, reads = recording_stage(pool, driver, now, settings)
    page = frame("P01234", "s-1")

    def pipe(offset: int, waited_ms: int) -> list:
        event = Event(b"demo/s-1", page, Stamped(FRAMES.name, 0, offset, (now[0] - waited_ms) / 1000))
        before = len(driver.sent)
        asyncio.run(st.handle(event))
        return driver.sent[before:]

    assert len(pipe(0, waited_ms=2_000)) == 1 and reads == [0]  # stale, but the visit is unread: read, summarised
    assert pipe(1, waited_ms=2_000) == [] and reads == [0]  # stale and the visit was read: skipped unread
    # and accounted in the table at once: without lookahead batches no batch end would write it before the ack
    assert st.sessions["demo/s-1"]["state"]["skipped_stale"] == 1 and not st.unsaved
    assert pipe(2, waited_ms=100) == [] and reads == [0, 2]  # fresh: read as usual (a visit's second read)
    now[0] += 3_000
    rest = summaries_pb2.BehaviourSummary.FromString(st_tick(st, driver)[0].value)
    assert list(rest.frame_offsets) == [1, 2] and rest.frames_skipped_stale == 1
    # past max_wait, a page not read yet is still read when nothing newer of its session waits (the plan sheds
    # only visits a newer one supersedes): a per-frame age limit lost the newest views of an outage's backlog
    other = frame("P01239", "s-1")
    late = Event(b"demo/s-1", other, Stamped(FRAMES.name, 0, 3, (now[0] - 3_500) / 1000))
    asyncio.run(st.handle(late))
    assert reads == [0, 2, 3]


async def direct(event, handler) -> None:
    """Runs a handler as the agent's Consumer.process does, without its retries and dead letters."""
    await handler(event)


def run_backlog(records: list[tuple[str, str, float]], now_ms: float, reading_since_ms: float | None = None,
                settings: SummarizerSettings | None = None) -> tuple[list[int], dict[str, list]]:
    """Feed one lookahead batch of (session, product, appended ms) through a stage with the default settings as the
    agent does (SummarizeStage.batch, then batches with nothing new while frames are held for their turn), close
    what is left open with an idle tick; returns the offsets read, in order, and each session's summaries. The
    frames are an outage's backlog (the worker starts on them), unless it was reading since `reading_since_ms`."""
    driver, now = StageDriver(), [int(now_ms)]
    with ThreadPoolExecutor(1) as pool:
        st, reads = recording_stage(pool, driver, now, settings)
        if reading_since_ms is not None:
            st.reading_since[0] = reading_since_ms
        pages = {pid: frame(pid, sid) for sid, pid, _ in records}
        events = [Event(f"demo/{sid}".encode(), pages[pid], Stamped(FRAMES.name, 0, offset, at / 1000))
                  for offset, (sid, pid, at) in enumerate(records)]

        async def batch() -> None:
            await st.batch(events, direct)
            while st.held:  # the agent's nudge: a next batch with nothing new in it
                await st.batch([], direct)
            now[0] += 10_000
            for sid in dict.fromkeys(sid for sid, _, _ in records):
                tick = frames_pb2.Frame(session_id=sid, tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
                await st.handle(Event(f"demo/{sid}".encode(), tick.SerializeToString(),
                                      Message(FRAMES.name, 0, 1_000)))

        asyncio.run(batch())
    summaries: dict[str, list] = {}
    for sent in driver.output(SUMMARIES.name):
        summaries.setdefault(sent.key.decode(), []).append(summaries_pb2.BehaviourSummary.FromString(sent.value))
    accounted = sorted(o for ss in summaries.values() for s in ss for o in s.frame_offsets)
    assert accounted == list(range(len(records)))  # every frame in exactly one summary's accounting
    for ss in summaries.values():
        assert [s.window_seq for s in ss] == sorted({s.window_seq for s in ss})  # never backwards
    return reads, summaries


def viewed(summaries: list) -> set[str]:
    return {v.product_id for s in summaries for v in s.viewed_products}


# two shoppers, each on one product page then another, two frames a page visit
SESSIONS = [("s-1", "P01234"), ("s-1", "P01234"), ("s-2", "P04410"), ("s-2", "P04410"),
            ("s-1", "P01239"), ("s-1", "P01239"), ("s-2", "P05521"), ("s-2", "P05521")]


@pytest.mark.parametrize("first_ms, keep_ms", [(15_000, 0), (24_000, 30_000)],
                         ids=["within-the-target", "far-behind-by-the-floor"])
def test_after_an_outage_every_session_newest_view_is_read_and_the_skipped_frames_are_accounted(first_ms, keep_ms):
    """A backlog the restarted worker finds (14 s of frames, the others past the 1.5 s lag target) is read visit by
    visit: each session's newest view and its earlier one reach the summary, only a visit's older frame is skipped.
    With the newest 1 s old its reads fit well within the target (default settings); with the newest 10 s old
    rule 2's budget is spent, and the opt-in outage floor (OUTAGE_KEEP_MS=30 s: its frames waited less) still reads
    every visit."""
    now = 1_000_000
    records = [(sid, pid, now - first_ms + 2_000 * i) for i, (sid, pid) in enumerate(SESSIONS)]
    reads, summaries = run_backlog(records, now, settings=SummarizerSettings(outage_keep_ms=keep_ms))
    assert reads == [1, 3, 5, 7]
    assert viewed(summaries["demo/s-1"]) == {"P01234", "P01239"}
    assert viewed(summaries["demo/s-2"]) == {"P04410", "P05521"}
    assert sum(s.frames_skipped_stale for ss in summaries.values() for s in ss) == 4


def test_under_sustained_overload_each_session_newest_view_is_read_and_older_visits_are_shed():
    """With the default settings, the same frames arriving within 0.7 s while the worker, reading for a minute, is
    already 10 s behind: reading every visit would keep it behind, so each session's older visit is skipped unread
    (accounted), and its newest view is read."""
    now = 1_000_000
    records = [(sid, pid, now - 10_700 + 100 * i) for i, (sid, pid) in enumerate(SESSIONS)]
    reads, summaries = run_backlog(records, now, reading_since_ms=now - 60_000)
    assert reads == [5, 7]
    assert viewed(summaries["demo/s-1"]) == {"P01239"} and viewed(summaries["demo/s-2"]) == {"P05521"}
    assert sum(s.frames_skipped_stale for ss in summaries.values() for s in ss) == 6


def st_tick(st, driver) -> list:
    tick = frames_pb2.Frame(session_id="s-1", tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
    before = len(driver.sent)
    asyncio.run(st.handle(Event(b"demo/s-1", tick.SerializeToString(), Message(FRAMES.name, 0, 99))))
    return driver.sent[before:]


@pytest.mark.parametrize("newer", [False, True], ids=["session-stopped", "newer-frame-of-the-visit"])
def test_a_frame_held_for_its_turn_is_read_next_batch_unless_a_newer_frame_of_its_visit_came(pool, newer):
    """Through the stage, 1 s behind a 1.5 s target: s-1 was read a moment ago, then s-1 and s-2 each open a
    product page. One read fits: s-2 (never read) is read, s-1's frame is held, accounted as skipped before the
    batch is acked. In
    the next batch, if s-1 sent nothing more (its final view), the held frame is read and the skip taken back;
    if a newer frame of the same page came, that one is read and the held one stays skipped. Either way every
    frame is accounted exactly once and s-1's view reaches its summary."""
    driver, now = StageDriver(), [1_000_000]
    st, reads = recording_stage(pool, driver, now)

    def record(offset: int, sid: str, pid: str) -> Event:
        return Event(f"demo/{sid}".encode(), frame(pid, sid), Stamped(FRAMES.name, 0, offset, (now[0] - 1_000) / 1000))

    async def run() -> None:
        await st.batch([record(0, "s-1", "P01234")], direct)
        now[0] += 100
        await st.batch([record(1, "s-2", "P04410"), record(2, "s-1", "P01239")], direct)
        assert reads == [0, 1] and list(st.held) == ["demo/s-1"]
        assert st.sessions["demo/s-1"]["state"]["skipped_stale"] == 1  # accounted before the batch's ack
        now[0] += 100
        await st.batch([record(3, "s-1", "P01239")] if newer else [], direct)
        assert not st.held
        now[0] += 10_000
        for sid in ("s-1", "s-2"):
            tick = frames_pb2.Frame(session_id=sid, tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
            await st.handle(Event(f"demo/{sid}".encode(), tick.SerializeToString(), Message(FRAMES.name, 0, 99)))

    asyncio.run(run())
    assert reads == ([0, 1, 3] if newer else [0, 1, 2])
    summaries = [summaries_pb2.BehaviourSummary.FromString(s.value) for s in driver.output(SUMMARIES.name)]
    s1 = [s for s in summaries if s.session_id == "s-1"]
    assert sorted(o for s in summaries for o in s.frame_offsets) == ([0, 1, 2, 3] if newer else [0, 1, 2])
    assert sum(s.frames_skipped_stale for s in summaries) == (1 if newer else 0)
    assert viewed(s1) == {"P01234", "P01239"}
    assert [s.window_seq for s in s1] == sorted({s.window_seq for s in s1})  # never backwards


@pytest.mark.parametrize("reading", [True, False], ids=["overload", "outage"])
def test_far_behind_a_worker_takes_turns_unless_it_is_an_outage_backlog(pool, reading):
    """Four sessions' new product pages, all 10 s behind the 1.5 s target. A worker that was reading when they came
    (overload) takes turns: one read a batch, the others held and read in the next batches, so each batch is
    short and it skips its way back to the present; a rebalance that revoked and gave back the partition in
    between changes nothing (the group settling after a restart does that). A worker that just started on them
    (an outage's backlog) reads every session's newest frame in the first batch. Either way every view reaches a
    summary and every frame is accounted once."""
    driver, now = StageDriver(), [1_000_000]
    st, reads = recording_stage(pool, driver, now)
    pages = [("s-1", "P01234"), ("s-2", "P04410"), ("s-3", "P05521"), ("s-4", "P01239")]

    def record(offset: int, sid: str, pid: str, appended_ms: int) -> Event:
        return Event(f"demo/{sid}".encode(), frame(pid, sid), Stamped(FRAMES.name, 0, offset, appended_ms / 1000))

    async def run() -> list[int]:
        per_batch = []
        if reading:  # the worker has been reading this partition since 20 s ago
            now[0] -= 20_000
            await st.batch([record(0, "s-0", "P09914", now[0] - 100)], direct)
            now[0] += 20_000
            reads.clear()
            st.drop_held(set())  # a rebalance revoked the partition and gave it back: still the same worker reading
            st.drop_held({0})
        start = 1 if reading else 0
        await st.batch([record(start + i, sid, pid, now[0] - 10_700 + 100 * i) for i, (sid, pid) in enumerate(pages)],
                       direct)
        per_batch.append(len(reads))
        while st.held:  # the agent's nudge: a next batch with nothing new in it
            now[0] += 300
            await st.batch([], direct)
            per_batch.append(len(reads) - sum(per_batch))
        now[0] += 10_000
        for sid, _ in pages:
            tick = frames_pb2.Frame(session_id=sid, tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
            await st.handle(Event(f"demo/{sid}".encode(), tick.SerializeToString(), Message(FRAMES.name, 0, 99)))
        return per_batch

    per_batch = asyncio.run(run())
    assert per_batch == ([1, 1, 1, 1] if reading else [4])
    summaries = [summaries_pb2.BehaviourSummary.FromString(s.value) for s in driver.output(SUMMARIES.name)]
    for sid, pid in pages:
        assert pid in viewed([s for s in summaries if s.session_id == sid])
    offsets = sorted(o for s in summaries if s.session_id != "s-0" for o in s.frame_offsets)
    assert offsets == list(range(1, 5) if reading else range(4))
