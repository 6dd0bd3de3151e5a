"""One browser session with both model backends (summarizer `vllm`, decomposer `llm`) against the replay
server, through the real gateway, Kafka and every service.

The replay server answers with the recorded vLLM envelopes; what the "model" says is scripted here from what
it was sent (a stand-in for a GPU model that reads the page): the summarizer prompt names the window's page
URL, and a product page's URL names the product; the decomposer prompt carries the summary as JSON. The
services are restarted with the model configuration for this test and restored afterwards."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from collections import Counter

import pytest

from infra.llm_replay.server import ReplayServer, ReplayState
from services.common.catalog import Catalog
from services.core.decompose import tool_schema
from services.core.reading import prompts
from tests.support import latest, wait_for

pytestmark = pytest.mark.e2e
MODEL_SERVICES = ("summarizer", "decomposer")


def scripted_model(catalog: Catalog) -> ReplayState:
    def summary_answer(body: dict) -> str:
        text = body["messages"][1]["content"][0]["text"]
        product = None
        if m := re.search(r"/p/([A-Za-z0-9_-]+)", text):
            product = catalog.by_id.get(m.group(1))
        seen = [product] if product else []
        return json.dumps({
            "product_types": [p.category for p in seen], "price_low": None, "price_high": None,
            "brands": [p.brand for p in seen], "colours": [p.colour for p in seen], "specifications": [],
            "ratings_seen": [], "read_reviews": False, "viewed_products": [p.title for p in seen], "comparisons": [],
            "promotions": [], "search_queries": [], "narrative": "scripted"})

    def tool_arguments(body: dict) -> str:
        summary = json.loads(body["messages"][1]["content"].split("\n", 1)[1])
        views = summary["viewed_products"]

        def focus(attr: str) -> list[str]:
            counts = Counter(v[attr] for v in views)
            top = counts.most_common(1)
            return [top[0][0]] if top and top[0][1] >= 2 and top[0][1] / len(views) >= 0.5 else []

        return json.dumps({"k": summary["recommend_k"], "objective": "expected_revenue",
                           "categories": focus("category"), "brands": focus("brand"), "exclude_brands": [],
                           "colours": [], "price_min": None, "price_max": None, "min_rating": None,
                           "include_product_ids": [], "exclude_product_ids": [v["product_id"] for v in views],
                           "max_per_brand": None})

    return ReplayState(content=summary_answer, tool_arguments=tool_arguments)


def restart_model_services(stack) -> None:
    """Both model services stopped, then started together: their starts (independent consumer groups) overlap."""
    for name in MODEL_SERVICES:
        stack.kill(name, signal.SIGTERM)
    for name in MODEL_SERVICES:
        stack.spawn(name)
    stack.wait_ready(180, only=[stack.service(name) for name in MODEL_SERVICES])


@pytest.fixture
def model_stack(stack, catalog_path):
    with ReplayServer(scripted_model(Catalog.load(catalog_path))) as replay:
        saved = dict(stack.extra_env)
        stack.extra_env.update({"INTERAREC_SUMMARIZER_BACKEND": "vllm", "INTERAREC_DECOMPOSER_BACKEND": "llm",
                                "INTERAREC_LLM_BASE_URL": replay.url, "INTERAREC_LLM_MODEL": "tiny-vlm",
                                "INTERAREC_LLM_TIMEOUT_S": "10"})
        try:
            restart_model_services(stack)
            yield stack, replay
        finally:
            stack.extra_env.clear()
            stack.extra_env.update(saved)
            restart_model_services(stack)


def test_browser_session_through_both_model_backends(model_stack, catalog_path):
    from services.shoppers.shopper import run_shopper

    stack, replay = model_stack
    catalog = Catalog.load(catalog_path)
    session_id = f"e2e-llm-{uuid.uuid4().hex[:8]}"
    result = asyncio.run(run_shopper(stack.shop_url, stack.gateway_url, stack.api_key, session_id, "brand",
                                     catalog, seed=11, progress=print))
    preferred = [pid for pid in result.opened_product_ids if result.preference.matches(catalog.by_id[pid])]
    assert result.frames_failed == 0 and len(preferred) >= 4

    def final():
        rec = latest(stack, session_id)
        viewed = {v["product_id"] for v in rec["summary"].get("viewed_products", [])} if rec else set()
        return rec if rec and set(preferred) <= viewed else None

    rec = wait_for(final, timeout_s=120)
    assert rec is not None, f"no recommendation covering the opened products; last: {latest(stack, session_id)}"
    summary = rec["summary"]
    assert summary["backend"] == "vllm" and summary["prompt_version"] == prompts.PROMPT_VERSION
    assert "fallback_reason" not in summary and summary["model"] == "tiny-vlm"
    assert rec["constraints"]["brands"] == [result.preference.brand]
    for item in rec["items"]:
        assert result.preference.matches(catalog.by_id[item["product_id"]])
        assert item["product_id"] not in result.opened_product_ids
    sent = replay.state.requests
    assert any(r.get("response_format", {}).get("type") == "json_schema" for r in sent)
    tool_calls = [r for r in sent if r.get("tools")]
    assert tool_calls and all(r["tool_choice"]["function"]["name"] == tool_schema.TOOL_NAME for r in tool_calls)
    images = [p for r in sent if r.get("response_format") for p in r["messages"][1]["content"]
              if p["type"] == "image_url"]
    assert images and all(p["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in images)
