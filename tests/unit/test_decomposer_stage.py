"""The decomposer's registered handler (services/decomposer/agents.py) through the in-memory stage driver,
and its entry point: settings declared once, `build(settings)` does the work, importing does none."""

from __future__ import annotations

from pathlib import Path

import pytest

from interarec.v1 import optimization_pb2
from services.common.config import ConfigError
from services.common.settings import from_env
from services.common.topics import OPT_REQUESTS, SUMMARIES
from services.common.worker import LastWindows
from services.core.decompose.llm_backend import RulesDecomposer
from services.decomposer import agents
from services.decomposer.settings import DecomposerSettings
from tests.stage_driver import StageDriver, build_offline, run_worker_offline
from tests.unit.catalog_factory import make_catalog
from tests.unit.test_rules import summary_of

ROOT = Path(__file__).resolve().parents[2]
CATALOG = make_catalog(240)


def stage(driver: StageDriver, k: int = 5) -> agents.DecomposeStage:
    return agents.DecomposeStage(RulesDecomposer(CATALOG, k), LastWindows.over({}, SUMMARIES.name),
                                 OPT_REQUESTS.name, driver.send)


def test_a_summary_becomes_one_request_keyed_by_session_and_a_redelivery_none():
    driver = StageDriver()
    handler = stage(driver).handle
    summary = summary_of([CATALOG.products[0], CATALOG.products[1]], session="s-9")
    out = driver.pipe(handler, SUMMARIES.name, b"demo/s-9", summary.SerializeToString())
    assert [(o.topic, o.key) for o in out] == [(OPT_REQUESTS.name, b"demo/s-9")]
    request = optimization_pb2.OptimizationRequest.FromString(out[0].value)
    assert request.k == 5 and request.window_seq == summary.window_seq and request.session_id == "s-9"
    assert [s.stage for s in request.trace.stages] == ["decomposer"]
    assert driver.pipe(handler, SUMMARIES.name, b"demo/s-9", summary.SerializeToString()) == []  # at-least-once


def test_a_window_of_duplicates_only_sends_nothing_but_counts_as_handled():
    driver = StageDriver()
    handler = stage(driver).handle
    summary = summary_of([CATALOG.products[0]], session="s-dup")
    summary.frame_offsets.extend([4, 5])
    summary.frames_in_window = 0
    assert driver.pipe(handler, SUMMARIES.name, b"demo/s-dup", summary.SerializeToString()) == []
    summary.frames_in_window = 2  # the same window again, now with frames: already handled
    assert driver.pipe(handler, SUMMARIES.name, b"demo/s-dup", summary.SerializeToString()) == []


def test_settings_are_read_and_validated_once(monkeypatch):
    monkeypatch.setenv("INTERAREC_RECOMMENDATION_SIZE", "12")
    monkeypatch.setenv("INTERAREC_DECOMPOSER_BACKEND", "rules")
    monkeypatch.setenv("INTERAREC_RETRY_MAX_ATTEMPTS", "3")
    settings = from_env(DecomposerSettings)
    assert settings.k == 12 and settings.backend == "rules" and settings.worker.retry.max_attempts == 3
    monkeypatch.setenv("INTERAREC_RECOMMENDATION_SIZE", "99")
    with pytest.raises(ConfigError, match="INTERAREC_RECOMMENDATION_SIZE=99 is outside"):
        from_env(DecomposerSettings)


def test_importing_the_worker_does_nothing_and_a_bad_setting_is_one_line():
    run = run_worker_offline("decomposer", INTERAREC_DECOMPOSER_BACKEND="gpt")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("decomposer: configuration error: INTERAREC_DECOMPOSER_BACKEND='gpt' must be one "
                                  "of rules, llm")


def test_build_wires_the_agent_without_a_broker(tmp_path, monkeypatch):
    from services.decomposer.app import build

    app = build_offline(build, DecomposerSettings, tmp_path, monkeypatch)
    assert [a.name for a in app.agents.values()] == ["services.decomposer.agents.decompose_summaries"]
    assert "decomposer-last-window" in app.tables


def test_the_fallback_wrapper_is_explicit_and_says_why():
    import asyncio

    from services.common.llm import LlmError
    from services.core.decompose.llm_backend import WithFallback

    class Broken:
        async def decompose(self, summary):
            raise LlmError("timeout", "no answer in 2 s")

    class Fixed:
        async def decompose(self, summary):
            return optimization_pb2.OptimizationRequest(session_id=summary.session_id, backend="fixed")

    summary = summary_of([CATALOG.products[0]], session="s-fb")
    request = asyncio.run(WithFallback(Broken(), RulesDecomposer(CATALOG, 5)).decompose(summary))
    assert request.backend == "rules" and "no answer in 2 s" in request.fallback_reason and request.k == 5
    request = asyncio.run(WithFallback(Fixed(), RulesDecomposer(CATALOG, 5)).decompose(summary))
    assert request.backend == "fixed" and not request.fallback_reason
