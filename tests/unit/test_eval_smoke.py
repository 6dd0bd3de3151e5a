"""Evaluation smoke test: two recorded persona sessions (tests/fixtures/eval, frames' reads cached, images
left out to keep the repository small) replayed through windowing, summary, rules and MNL, scored against
the baselines, with the full report written. Seconds, no browser, no Kafka."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from infra.llm_replay.server import ReplayServer
from services.common.catalog import Catalog
from services.common.config import ConfigError
from services.eval.runner import METHODS, evaluate

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "eval" / "sessions" / "classic"


@pytest.fixture(scope="module")
def catalog(catalog_path) -> Catalog:
    return Catalog.load(catalog_path)


def copy_sessions(tmp_path: Path) -> list[Path]:
    sessions = []
    for src in sorted(FIXTURE.iterdir()):
        dst = tmp_path / "sessions" / src.name
        shutil.copytree(src, dst)
        sessions.append(dst)
    assert len(sessions) == 2
    return sessions


def test_replay_two_personas_and_write_the_report(catalog, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("INTERAREC_LLM_BASE_URL", raising=False)
    sessions = copy_sessions(tmp_path)
    out = tmp_path / "report"
    result = evaluate(catalog, sessions, out, k=8, seed=7, cache_key="fixture")
    for name in ("report.md", "by_method.csv", "by_group.csv", "per_persona.csv", "session_length.csv",
                 "metric_by_method.png", "metric_by_length.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "per_persona.csv")))
    assert {r["method"] for r in rows} == set(METHODS) - {"interarec-live", "interarec-vllm"}
    assert "interarec-vllm): skipped: INTERAREC_LLM_BASE_URL is not set" in (out / "report.md").read_text()
    ours = [r for r in rows if r["method"] == "interarec"]
    assert len(ours) == 2
    for r in ours:
        # both products each short shopper opened were recognised from the screenshots alone
        assert float(r["grounding_precision"]) == 1.0 and float(r["grounding_recall"]) == 1.0
        assert len(r["items"].split()) == 8
        for key in ("hr", "ndcg", "ndcg@10", "mrr", "precision", "recall", "f1", "satisfaction"):
            assert 0.0 <= float(r[key]) <= 1.0
        # at K=10 the 8-item panel's two empty slots are misses: NDCG@10 can only fall short of NDCG@8's hits
        assert float(r["ndcg@10"]) <= float(r["ndcg"]) + 1e-9 or float(r["ndcg"]) == 0.0
    for r in rows:  # nobody recommends back what the shopper already opened
        meta = json.loads((tmp_path / "sessions" / r["persona"] / "session.json").read_text())
        assert not set(meta["opened"]) & set(r["items"].split()), r["method"]
    targets = {t["target"]: t for t in csv.DictReader(open(out / "targets.csv"))}
    ndcg10 = targets["NDCG@10: InteraRec >= web-log baseline (overall)"]
    assert float(ndcg10["measured"]) >= 0 and float(ndcg10["web-log"]) >= 0
    assert "NDCG@8 (panel size): InteraRec >= web-log baseline (overall)" in targets
    lengths = {(line["method"], line["windows"]) for line in result["lengths"]}
    assert ("interarec", 1) in lengths and ("weblog-content", 8) in lengths
    # in-session metrics for InteraRec and the web-log baseline recomputed at each page view, with a plot each
    in_session = {(line["layout"], line["method"]): line for line in result["in_session"]}
    for method in ("interarec", "weblog-content"):
        line = in_session[("classic", method)]
        assert line["sessions"] == 2 and 0.0 <= line["share"] <= 1.0
    assert "## In session" in (out / "report.md").read_text()
    assert len(list((out / "in_session").glob("classic-*.png"))) == 2


def test_the_vllm_backend_is_scored_beside_the_embedded_one(catalog, tmp_path: Path, monkeypatch):
    """With a model URL configured, every window is summarised by the vllm backend from the same frames (here
    the recorded-traffic replay server, answering with the two products the short-band shopper opened)."""
    sessions = copy_sessions(tmp_path)
    for directory in sessions:  # the fixture keeps no images: blank captures stand in (the server reads none)
        for line in (directory / "frames.jsonl").read_text().splitlines():
            Image.new("RGB", (1280, 800), "white").save(directory / json.loads(line)["file"], format="JPEG")
    opened = [catalog.by_id[p] for p in ("P38127", "P56330")]
    answer = {"product_types": ["Outerwear"], "price_low": None, "price_high": None, "brands": [], "colours": [],
              "specifications": [], "ratings_seen": [], "read_reviews": False,
              "viewed_products": [p.title for p in opened], "comparisons": [], "promotions": [],
              "search_queries": [], "narrative": "Two coats at about the same price."}
    with ReplayServer() as server:
        server.state.content = json.dumps(answer)
        monkeypatch.setenv("INTERAREC_LLM_BASE_URL", server.url)
        monkeypatch.setenv("INTERAREC_LLM_MODEL", "tiny-vlm")
        monkeypatch.setenv("INTERAREC_LLM_RETRIES", "0")
        result = evaluate(catalog, sessions, tmp_path / "report", k=8, seed=7, cache_key="fixture")
        requests = list(server.state.requests)
    assert requests and all(any(part.get("type") == "image_url" for m in r["messages"]
                                if isinstance(m.get("content"), list) for part in m["content"]) for r in requests)
    windows = sum(len(json.loads((d / "windows.json").read_text())) for d in sessions)
    # one model call per window with a distinct frame; a window of near-duplicates only has no image to send,
    # and (as in the summarizer) the embedded summary stands in for it
    assert f"{len(requests)}/{windows} windows summarised" in result["model"]
    fallbacks = windows - len(requests)
    assert not fallbacks or result["model"].endswith(f"(embedded fallback: {fallbacks}x no_images)")
    ours = {r["persona"]: r for r in result["rows"] if r["method"] == "interarec-vllm"}
    assert set(ours) == {"short-band", "short-brand"}
    items = [catalog.by_id[p] for p in ours["short-band"]["items"].split()]
    assert len(items) == 8 and all(p.category == "Outerwear" for p in items)
    assert not {p.product_id for p in opened} & {p.product_id for p in items}
    lengths = {(line["method"], line["windows"]) for line in result["lengths"]}
    assert ("interarec-vllm", 1) in lengths


def test_a_misconfigured_model_url_is_an_error_not_a_skip(catalog, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INTERAREC_LLM_BASE_URL", "localhost:8000")  # no scheme
    monkeypatch.setenv("INTERAREC_LLM_MODEL", "tiny-vlm")
    with pytest.raises(ConfigError, match="INTERAREC_LLM_BASE_URL"):
        evaluate(catalog, copy_sessions(tmp_path), tmp_path / "report", k=8, seed=7, cache_key="fixture")


def test_a_replay_windows_frames_as_the_summarizer_configured_at_call_time(catalog, tmp_path: Path, monkeypatch):
    """The replay reads the summarizer's window settings when it runs (as the summarizer reads them at start),
    not once at import: an evaluation run with INTERAREC_SUMMARIZER_WINDOW_FRAMES set windows like that worker."""
    from services.core.reading.reader import FrameReader
    from services.eval.replay import replay_session

    session, reader = copy_sessions(tmp_path)[0], FrameReader(catalog)
    monkeypatch.delenv("INTERAREC_SUMMARIZER_WINDOW_FRAMES", raising=False)
    default = replay_session(session, catalog, reader, cache_key="fixture")
    monkeypatch.setenv("INTERAREC_SUMMARIZER_WINDOW_FRAMES", "1")
    one_frame = replay_session(session, catalog, reader, cache_key="fixture")
    assert len(one_frame.windows) > len(default.windows)
    monkeypatch.setenv("INTERAREC_SUMMARIZER_WINDOW_FRAMES", "0")
    with pytest.raises(ConfigError, match="INTERAREC_SUMMARIZER_WINDOW_FRAMES"):
        replay_session(session, catalog, reader, cache_key="fixture")


def test_insession_trace_shows_reads_constraints_and_right_items_per_panel_change(catalog, tmp_path: Path):
    """The in-session bench's --trace (infra/bench/insession_hops.py): the session window by window, with what
    was read, the constraints and the panel against the shopper's hidden preference (how a low share is diagnosed)."""
    import re

    from infra.bench.insession_hops import trace
    from services.core.reading.reader import FrameReader
    from services.eval.replay import replay_session
    from services.shoppers.personas import library

    session = copy_sessions(tmp_path)[0]
    assert session.name == "short-band"
    persona = library(catalog, only=["short-band"])[0]
    replay = replay_session(session, catalog, FrameReader(catalog), cache_key="fixture")
    lines = trace(replay, persona, catalog)
    assert lines[0] == f"### short-band: wants {persona.describe()}"
    heads = [line for line in lines if line.startswith("- ")]
    panels = [line for line in lines if line.startswith("  panel: ")]
    assert len(heads) == len(panels) >= 2
    # only changes are listed: fewer entries than windows
    assert len(heads) < len(replay.windows)
    # the product pages the shopper opened show up as reads
    for pid in replay.meta["opened"]:
        assert any(f"product {pid}" in h for h in heads), pid
    # "n/k right" counts exactly the starred items, and a star means the item meets the preference
    for head, panel in zip(heads, panels, strict=True):
        good, shown = map(int, re.search(r"(\d+)/(\d+) right", head).groups())
        items = panel.removeprefix("  panel: ").split("; ") if shown else []
        assert len(items) == shown and sum(i.endswith("*") for i in items) == good
    last = next(w for w in reversed(replay.windows) if w.items)
    starred = sum(persona.wants.fits(catalog.by_id[pid]) for pid in last.items)
    assert f"{starred}/{len(last.items)} right" in heads[-1]
