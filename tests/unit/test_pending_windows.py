"""At-least-once for windows whose summary is in flight: a crash mid-call loses no window, a failed send is
retried, every session's summaries go out in window order, and the pending state empties once all are sent.
The mappings stand in for the changelog-backed tables (which survive the crash by recovery)."""

from __future__ import annotations

import asyncio
import json

import pytest
from PIL import Image

from infra.llm_replay.server import ReplayServer, ReplayState
from services.common.llm import LlmClient, LlmSettings
from services.core.reading.vllm_backend import VllmSummarizer, data_url
from services.core.reading.window import ClosedWindow, SessionState
from services.summarizer.model_path import PendingWindows, frame_key
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240, seed=2)
SESSIONS, WINDOWS = 3, 3
ANSWER = json.dumps({"product_types": [], "price_low": None, "price_high": None, "brands": ["Acme"], "colours": [],
                     "specifications": [], "ratings_seen": [], "read_reviews": False, "viewed_products": [],
                     "comparisons": [], "promotions": [], "search_queries": [], "narrative": ""})


@pytest.fixture(scope="module")
def replay():
    with ReplayServer(ReplayState(content=ANSWER)) as server:
        yield server


def window(seq: int) -> ClosedWindow:
    return ClosedWindow(window_seq=seq, reason="frames", page_url="http://shop/", frame_seqs=[seq * 10, seq * 10 + 1],
                        first_capture_ms=1, last_capture_ms=2, opened_ms=1, closed_ms=2, observations=[],
                        history=[], dropped_duplicates=0)


def core(url: str, pending: dict, frames: dict, sent: list, fail_first: set | None = None) -> PendingWindows:
    settings = LlmSettings(base_url=url, model="tiny-vlm", retries=0, timeout_s=5)
    failures = set(fail_first or ())

    async def send(sid, summary):
        if (sid, summary.window_seq) in failures:
            failures.discard((sid, summary.window_seq))
            raise RuntimeError("broker unavailable")
        sent.append((sid, summary.window_seq, summary.backend))

    return PendingWindows(pending, frames, VllmSummarizer(LlmClient(settings, "pending-test"), CATALOG), CATALOG,
                          send, settings, max_windows=8)


def close_windows(c: PendingWindows) -> None:
    url = data_url(Image.new("RGB", (64, 40), "white"), 64 * 40)
    for seq in range(1, WINDOWS + 1):
        for s in range(SESSIONS):
            w = window(seq)
            for f in w.frame_seqs:
                c.remember(f"s{s}", f, url, SessionState(), [w])
            c.hand_over(f"s{s}", "demo", f"s{s}", w, None, 0)


def assert_complete(sent: list, pending: dict, frames: dict) -> None:
    for s in range(SESSIONS):
        seqs = [seq for sid, seq, _ in sent if sid == f"s{s}"]
        assert sorted(set(seqs)) == list(range(1, WINDOWS + 1))   # nothing lost (duplicates allowed)
        assert seqs == sorted(seqs)                                 # and in window order
    assert {backend for *_, backend in sent} == {"vllm"}
    assert not pending and not frames


def test_crash_mid_call_then_recovery_sends_every_window_in_order(replay):
    pending: dict = {}
    frames: dict = {}
    sent: list = []
    replay.state.delay_s = 0.5

    async def before_crash():
        c = core(replay.url, pending, frames, sent)
        close_windows(c)
        await asyncio.sleep(0.2)  # calls in flight, none answered yet
        for task in list(c.dispatcher._tails.values()):
            task.cancel()          # the process dies: tasks gone, tables (changelogs) kept
        await asyncio.sleep(0)

    asyncio.run(before_crash())
    assert not sent and sum(len(v) for v in pending.values()) == SESSIONS * WINDOWS
    assert frames[frame_key("s0", 10)].startswith("data:image/jpeg")

    replay.state.delay_s = 0.0

    async def after_restart():
        c = core(replay.url, pending, frames, sent)
        await c.redispatch()      # what the worker's timer does after recovery
        await c.redispatch()      # a second tick while they run: nothing is dispatched twice
        await c.dispatcher.drain()
        return c

    c = asyncio.run(after_restart())
    assert len(sent) == SESSIONS * WINDOWS and c.dispatcher.peak_in_flight >= SESSIONS
    assert_complete(sent, pending, frames)


def test_failed_send_is_retried_in_place_and_order_holds(replay):
    pending: dict = {}
    frames: dict = {}
    sent: list = []
    replay.state.delay_s = 0.0

    async def go():
        c = core(replay.url, pending, frames, sent, fail_first={("s1", 2)})
        close_windows(c)
        await c.dispatcher.drain()
        assert c.dispatcher.failed == 0

    asyncio.run(go())
    assert [seq for sid, seq, _ in sent if sid == "s1"] == [1, 2, 3]  # window 3 waited for the retried 2
    assert_complete(sent, pending, frames)
