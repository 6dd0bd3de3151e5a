"""Evaluation smoke test: two recorded persona sessions (tests/fixtures/eval, frames' reads cached, images
left out to keep the repository small) replayed through windowing, summary, rules and MNL, scored against
the baselines, with the full report written. Seconds, no browser, no Kafka."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from services.common.catalog import Catalog
from services.eval.runner import METHODS, evaluate

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "eval" / "sessions" / "classic"


@pytest.fixture(scope="module")
def catalog(catalog_path) -> Catalog:
    return Catalog.load(catalog_path)


def test_replay_two_personas_and_write_the_report(catalog, tmp_path: Path):
    sessions = []
    for src in sorted(FIXTURE.iterdir()):
        dst = tmp_path / "sessions" / src.name
        shutil.copytree(src, dst)
        sessions.append(dst)
    assert len(sessions) == 2
    out = tmp_path / "report"
    result = evaluate(catalog, sessions, out, k=8, seed=7, cache_key="fixture")
    for name in ("report.md", "by_method.csv", "by_group.csv", "per_persona.csv", "session_length.csv",
                 "metric_by_method.png", "metric_by_length.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader(open(out / "per_persona.csv")))
    assert {r["method"] for r in rows} == set(METHODS) - {"interarec-live"}
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
