"""The project's own exchanges with the real vLLM engine (recorded by `make test-vllm` into
tests/fixtures/interarec-vllm-0.32.0/), replayed: the requests have the shape the backends promise, and the
recorded answers go through client, validation and grounding exactly as they did against the engine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from infra.llm_replay.server import ReplayServer, ReplayState
from interarec.v1 import summaries_pb2
from services.common.llm import LlmClient, LlmError, LlmSettings
from services.core.decompose import repair, tool_schema
from services.core.decompose.llm_backend import LlmDecomposer, decompose_summary, side_constraint_problems
from services.core.reading import prompts
from services.core.reading.vllm_backend import VllmSummarizer, summarize_window
from services.core.reading.window import ClosedWindow
from tests.unit.catalog_factory import make_catalog

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "interarec-vllm-0.32.0"
CATALOG = make_catalog(240, seed=2)  # the catalog tests/vllm/test_real_engine.py used


def recorded(name: str) -> dict:
    path = RECORDINGS / f"{name}.json"
    if not path.exists():
        pytest.fail(f"{path} missing: run `make test-vllm` to record it")
    return json.loads(path.read_text())


def replay_with(exchange: dict, coro_factory):
    async def go(url: str):
        client = LlmClient(LlmSettings(base_url=url, model="tiny-vlm", retries=0, timeout_s=5), "recorded")
        try:
            return await coro_factory(client)
        finally:
            await client.close()

    with ReplayServer(ReplayState(exchange=exchange)) as server:
        return asyncio.run(go(server.url))


def test_recorded_summary_request_and_answer():
    ex = recorded("summary_json_schema")
    request = ex["request"]["json"]
    assert request["response_format"]["json_schema"]["name"] == prompts.SCHEMA_NAME
    assert request["messages"][0]["content"] == prompts.SYSTEM_PROMPT
    parts = request["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in parts[1:])
    assert ex["response"]["status"] == 200 and ex["response"]["body"]["choices"][0]["finish_reason"] == "stop"

    window = ClosedWindow(window_seq=1, reason="frames", page_url="http://shop/p/P00000", frame_seqs=[1, 2],
                          first_capture_ms=1, last_capture_ms=2, opened_ms=1, closed_ms=2, observations=[],
                          history=[], dropped_duplicates=0)
    urls = [p["image_url"]["url"] for p in parts[1:]]
    summary = replay_with(ex, lambda c: summarize_window(VllmSummarizer(c, CATALOG), "s1", "demo", window, urls,
                                                         CATALOG))
    assert summary.backend == "vllm" and not summary.fallback_reason


def test_recorded_named_tool_call():
    ex = recorded("decompose_named_tool")
    request = ex["request"]["json"]
    assert request["tool_choice"] == tool_schema.TOOL_CHOICE
    assert [t["function"]["name"] for t in request["tools"]] == [tool_schema.TOOL_NAME]
    s = summaries_pb2.BehaviourSummary(session_id="s1", tenant="demo", window_seq=1)
    req = replay_with(ex, lambda c: decompose_summary(LlmDecomposer(c, CATALOG, 8), s, CATALOG, 8))
    assert req.backend == "llm" and not req.fallback_reason
    assert repair.validate_request(req, CATALOG) == [] and side_constraint_problems(req, CATALOG) == []


@pytest.mark.parametrize("name, kind", [("truncated_length", "length"), ("error_too_many_images", "client_error"),
                                        ("error_max_tokens_too_large", "client_error")])
def test_recorded_failures(name, kind):
    with pytest.raises(LlmError) as err:
        replay_with(recorded(name), lambda c: c.chat([{"role": "user", "content": "x"}]))
    assert err.value.kind == kind


def test_recorded_stream():
    answer = replay_with(recorded("stream_json_schema"),
                         lambda c: c.chat([{"role": "user", "content": "x"}], stream=True))
    assert answer.finish_reason == "stop" and answer.json_content() is not None
