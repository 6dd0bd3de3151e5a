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
from services.core.reading.window import FrameMeta, SessionState, add_frame, close_idle, skip_frame
from services.summarizer import agents
from services.summarizer.latest import superseded
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
    batch = [(a, "http://shop/p/P1"), (a, "http://shop/p/P1#reviews"), (b, "http://shop/p/P1"), None,
             (a, "http://shop/p/P1"), (a, "http://shop/p/P2"), (a, "http://shop/p/P1"), (b, "http://shop/")]
    # s-1's first visit of P1 keeps its newest frame (index 4); its visit to P2 and its return to P1 are visits
    # of their own, so a page the shopper opened is never lost; s-2's two pages are kept; a tick is never skipped
    assert superseded(batch) == [True, True, False, False, False, False, False, False]
    assert superseded([]) == [] and superseded([None, (a, "u")]) == [False, False]


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


def test_a_lagging_stage_reads_the_newest_frame_of_each_visit_and_accounts_the_stale_ones(pool):
    """What the agent does with a lookahead batch (register_agents: take_events, plan, skip or handle)."""
    driver, now = StageDriver(), [1_000_000]
    st = agents.SummarizeStage(SummarizerSettings(idle_ms=2500), CATALOG, FrameReader(CATALOG), {}, pool,
                               SUMMARIES.name, driver.send, clock=lambda: now[0])
    reads: list[int] = []
    observe = st.observe
    st.observe = lambda image, f, offset: (reads.append(offset), observe(image, f, offset))[1]
    records = [("s-1", "P01234")] * 3 + [("s-1", "P01239"), ("s-2", "P01234")]
    events = [Event(f"demo/{s}".encode(), frame(pid, s), Message(FRAMES.name, 0, offset))
              for offset, (s, pid) in enumerate(records)]
    tick = frames_pb2.Frame(session_id="s-1", tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
    events.append(Event(b"demo/s-1", tick.SerializeToString(), Message(FRAMES.name, 0, len(events))))

    async def run_batch() -> None:
        for event, stale in zip(events, st.plan(events), strict=True):
            await (st.skip if stale else st.handle)(event)

    asyncio.run(run_batch())
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
    st = agents.SummarizeStage(settings, CATALOG, FrameReader(CATALOG), {}, pool, SUMMARIES.name, driver.send,
                               clock=lambda: now[0])
    reads: list[int] = []
    observe = st.observe
    st.observe = lambda image, f, offset: (reads.append(offset), observe(image, f, offset))[1]
    page = frame("P01234", "s-1")

    def pipe(offset: int, waited_ms: int) -> list:
        event = Event(b"demo/s-1", page, Stamped(FRAMES.name, 0, offset, (now[0] - waited_ms) / 1000))
        before = len(driver.sent)
        asyncio.run(st.handle(event))
        return driver.sent[before:]

    assert len(pipe(0, waited_ms=2_000)) == 1 and reads == [0]  # stale, but the visit is unread: read, summarised
    assert pipe(1, waited_ms=2_000) == [] and reads == [0]  # stale and the visit was read: skipped unread
    assert pipe(2, waited_ms=100) == [] and reads == [0, 2]  # fresh: read as usual (a visit's second read)
    now[0] += 3_000
    rest = summaries_pb2.BehaviourSummary.FromString(st_tick(st, driver)[0].value)
    assert list(rest.frame_offsets) == [1, 2] and rest.frames_skipped_stale == 1
    # past max_wait even a page not read yet is skipped: it would reach the panel too late, and reading it
    # would delay every later frame
    other = frame("P01239", "s-1")
    late = Event(b"demo/s-1", other, Stamped(FRAMES.name, 0, 3, (now[0] - 3_500) / 1000))
    asyncio.run(st.handle(late))
    assert reads == [0, 2]
    now[0] += 3_000
    last = summaries_pb2.BehaviourSummary.FromString(st_tick(st, driver)[0].value)
    assert list(last.frame_offsets) == [3] and last.frames_skipped_stale == 1
    assert "P01239" not in {v.product_id for v in last.viewed_products}


def st_tick(st, driver) -> list:
    tick = frames_pb2.Frame(session_id="s-1", tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK)
    before = len(driver.sent)
    asyncio.run(st.handle(Event(b"demo/s-1", tick.SerializeToString(), Message(FRAMES.name, 0, 99))))
    return driver.sent[before:]
