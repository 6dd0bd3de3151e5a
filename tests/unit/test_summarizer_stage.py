"""The summarizer's registered handler (services/summarizer/agents.py) through the in-memory stage driver, with
real OCR (tesseract) on rendered shop pages, and its entry point: `build(settings)` does the work, importing
does none."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from interarec.v1 import frames_pb2, summaries_pb2
from services.common.topics import FRAMES, SUMMARIES
from services.core.reading.reader import FrameReader
from services.summarizer import agents
from services.summarizer.settings import SummarizerSettings
from tests.stage_driver import StageDriver, build_offline, run_worker_offline
from tests.unit.test_summarizer_domain import jpeg, make_catalog, render_page

ROOT = Path(__file__).resolve().parents[2]
CATALOG = make_catalog()
RECS = [CATALOG.by_id["P09914"], CATALOG.by_id["P05521"]]


class Clock:
    def __init__(self, ms: int = 1_000_000):
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def pool():
    with ThreadPoolExecutor(1) as executor:
        yield executor


def stage(driver: StageDriver, pool, clock: Clock, **settings) -> agents.SummarizeStage:
    return agents.SummarizeStage(SummarizerSettings(**settings), CATALOG, FrameReader(CATALOG), {}, pool,
                                 SUMMARIES.name, driver.send, clock=clock)


def frame(product_id: str, session: str = "s-1") -> bytes:
    page = render_page(CATALOG.by_id[product_id], RECS)
    return frames_pb2.Frame(session_id=session, tenant="demo", page_url=f"http://shop/p/{product_id}",
                            capture_unix_ms=1_000, image=jpeg(page)).SerializeToString()


def tick(session: str = "s-1") -> bytes:
    return frames_pb2.Frame(session_id=session, tenant="demo", control=frames_pb2.FRAME_CONTROL_TICK
                            ).SerializeToString()


def summary_of(sent) -> summaries_pb2.BehaviourSummary:
    assert [(o.topic, o.key) for o in sent] == [(SUMMARIES.name, b"demo/s-1")]
    return summaries_pb2.BehaviourSummary.FromString(sent[0].value)


def test_a_product_view_is_summarised_at_once_a_duplicate_adds_nothing_and_an_idle_tick_closes_the_rest(pool):
    driver, clock = StageDriver(), Clock()
    st = stage(driver, pool, clock, window_frames=3, idle_ms=2500)
    # the visit's first read names the product: its summary goes out with that frame, not after the visit
    summary = summary_of(driver.pipe(st.handle, FRAMES.name, b"demo/s-1", frame("P01234")))
    assert summary.session_id == "s-1" and summary.tenant == "demo" and summary.window_close_reason == "read"
    assert summary.frames_in_window == 1 and list(summary.frame_offsets) == [0]
    assert "P01234" in [v.product_id for v in summary.viewed_products]
    assert [s.stage for s in summary.trace.stages] == ["summarizer"]
    clock.ms += 100
    # a visit's first two reads are never skipped (the previous page may still be painted): it opens a window
    assert driver.pipe(st.handle, FRAMES.name, b"demo/s-1", frame("P01234")) == []
    clock.ms += 100
    # the same screen a third time: a near-duplicate, accounted for but neither read nor filling the window
    assert driver.pipe(st.handle, FRAMES.name, b"demo/s-1", frame("P01234")) == []
    clock.ms += 100
    assert driver.pipe(st.handle, FRAMES.name, b"demo/s-1", tick()) == []  # not idle yet: nothing closes
    clock.ms += 2500
    rest = summary_of(driver.pipe(st.handle, FRAMES.name, b"demo/s-1", tick()))
    assert rest.frames_in_window == 1 and list(rest.frame_offsets) == [1, 2]
    assert rest.frames_dropped_duplicate == 1 and rest.window_close_reason == "idle"
    assert rest.window_seq > summary.window_seq
    assert driver.pipe(st.handle, FRAMES.name, b"demo/s-1", tick()) == []  # closed once

    # the next product page is summarised with its first read too, numbered after the earlier windows
    second = summary_of(driver.pipe(st.handle, FRAMES.name, b"demo/s-1", frame("P01239")))
    assert second.window_close_reason == "read" and list(second.frame_offsets) == [6]  # ticks took 3-5
    assert second.window_seq > rest.window_seq and "P01239" in {v.product_id for v in second.viewed_products}


def test_an_idle_session_past_its_ttl_is_forgotten_and_ticks_are_due_only_when_idle(pool):
    driver, clock = StageDriver(), Clock()
    st = stage(driver, pool, clock, window_frames=4, idle_ms=2500)
    driver.pipe(st.handle, FRAMES.name, b"demo/s-2", frame("P01234", "s-2"))  # read: summarised at once
    assert st.due_ticks() == []  # no window open
    driver.pipe(st.handle, FRAMES.name, b"demo/s-2", frame("P01234", "s-2"))  # the visit's second read opens one
    assert st.due_ticks() == []
    clock.ms += 2500
    assert [(k, t.control) for k, t in st.due_ticks()] == [("demo/s-2", frames_pb2.FRAME_CONTROL_TICK)]
    assert st.due_ticks() == []  # ticked once; re-sent only after the re-tick interval
    clock.ms += st.session_ttl_ms
    out = driver.pipe(st.handle, FRAMES.name, b"demo/s-2", tick("s-2"))
    assert len(out) == 1 and "demo/s-2" not in st.sessions and len(st.activity) == 0


def test_importing_the_worker_does_nothing_and_a_bad_setting_is_one_line():
    run = run_worker_offline("summarizer", INTERAREC_SUMMARIZER_WINDOW_FRAMES="0")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().startswith("summarizer: configuration error: INTERAREC_SUMMARIZER_WINDOW_FRAMES=0")
    run = run_worker_offline("summarizer")  # valid settings, no catalog: one line from build()
    assert run.returncode == 2 and "Traceback" not in run.stderr and "catalog" in run.stderr


def test_build_wires_the_agent_without_a_broker(tmp_path, monkeypatch):
    from services.summarizer.app import build

    app = build_offline(build, SummarizerSettings, tmp_path, monkeypatch)
    assert [a.name for a in app.agents.values()] == ["services.summarizer.agents.summarize_frames"]
    assert "summarizer-sessions" in app.tables and "summarizer-pending" not in app.tables
