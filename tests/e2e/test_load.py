"""The Locust load generator (load-tests/) against the real stack: its shoppers' requests all succeed and
every shopper ends up with a recommendation, so `make load-test` measures a pipeline that works, and its
figures cover every hop, the storefront's included."""

from __future__ import annotations

import csv
import importlib.util
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

RUNNER = Path(__file__).resolve().parents[2] / "load-tests" / "run.py"


def load_runner():
    spec = importlib.util.spec_from_file_location("load_tests_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_locust_shoppers_all_get_recommendations(stack, tmp_path):
    runner = load_runner()
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    users = 3
    result = runner.measure(stack, prefix, users, duration_s=20, spawn_rate=3, out=tmp_path, sample_every=2.0,
                            drain_s=60.0)
    with open(tmp_path / "load_stats.csv") as fh:
        stats = {row["Name"]: row for row in csv.DictReader(fh)}
    assert result.locust_code == 0, stats  # Locust exits 1 when any request failed
    frames = stats["gateway: POST frame"]
    assert int(frames["Request Count"]) >= 20 and int(frames["Failure Count"]) == 0
    assert int(stats["Aggregated"]["Failure Count"]) == 0
    sessions = [f"{prefix}-{n}" for n in range(users)]
    assert runner.recommended_sessions(stack, sessions, timeout_s=150) == sorted(sessions)
    # How long records waited before each stage read them, the storefront (the last hop) included.
    assert set(result.wait_p95) == {"summarizer", "decomposer", "optimizer", "storefront_api"}
    assert all(seconds is not None and seconds >= 0 for seconds in result.wait_p95.values()), result.wait_p95
