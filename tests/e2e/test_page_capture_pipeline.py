"""`make run`'s path, end to end: the demo shop's own pages capture themselves (capture-js, session token from
the shop's backend, CORS at the gateway) while a scripted shopper only browses; the recommendation that comes
back through every service must match the shopper's hidden preference, on both shop layouts."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from services.common.catalog import Catalog
from services.demo_shop.capture import BUNDLE
from tests.e2e.test_browser_capture import frames_of
from tests.support import latest, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not BUNDLE.is_file(), reason="capture script not built")]
RECOMMENDATION_TIMEOUT_S = 360.0  # the summarizer's OCR backlog on a busy 2-core machine (see test_pipeline.py)


@pytest.fixture(scope="module")
def page_capturing_shop(stack):
    """The stack's demo shop restarted with the capture script on its pages, per layout; back to plain once the
    module is done (one restart for the whole module, not one per layout)."""
    def restart(on: bool, layout: str | None = None) -> None:
        stack.page_capture = on
        if layout:
            stack.extra_env["INTERAREC_SHOP_LAYOUT"] = layout
        else:
            stack.extra_env.pop("INTERAREC_SHOP_LAYOUT", None)
        stack.kill("demo-shop", signal.SIGTERM)
        stack.restart("demo-shop", progress=print)

    yield restart
    restart(False)


@pytest.mark.parametrize("layout,scenario,seed", [("classic", "brand", 11), ("boutique", "colour", 4)])
def test_page_captured_session_becomes_a_matching_recommendation(stack, catalog_path, page_capturing_shop,
                                                                  layout, scenario, seed):
    from services.shoppers.shopper import run_shopper

    page_capturing_shop(True, layout)
    catalog = Catalog.load(catalog_path)
    session_id = f"page-{uuid.uuid4().hex[:8]}"
    # no gateway URL and no API key for the shopper: only the page can send frames
    result = asyncio.run(run_shopper(stack.shop_url, "", "", session_id, scenario, catalog, seed=seed,
                                     progress=print, page_capture=True))
    assert result.frames_sent >= 10 and result.frames_failed == 0, result
    assert result.session_id != session_id  # the shop issued the session; the run's name was not used
    session_id = result.session_id
    on_topic = frames_of(stack.bootstrap, session_id, tenant="demo")
    # frames_sent counts 2xx answers the browser saw: exact repeats (200, dropped by the gateway) are in it, the
    # keepalive flush as a page unloads (one per page left at most) is not
    assert 10 <= len(on_topic) <= result.frames_sent + len(result.opened_product_ids) + 2
    assert all(f.tenant == "demo" and f.page_url.startswith(stack.shop_url) for f in on_topic)
    preferred = [pid for pid in result.opened_product_ids if result.preference.matches(catalog.by_id[pid])]
    assert len(preferred) >= 4

    def final():
        rec = latest(stack, session_id)
        viewed = {v["product_id"] for v in rec["summary"].get("viewed_products", [])} if rec else set()
        return rec if rec and set(preferred) <= viewed else None

    rec = wait_for(final, timeout_s=RECOMMENDATION_TIMEOUT_S, interval_s=2.0)
    assert rec is not None, f"no recommendation covering {preferred}; last: {latest(stack, session_id)}"
    items = rec["items"]
    assert items
    for item in items:
        product = catalog.by_id[item["product_id"]]
        assert result.preference.matches(product), f"{product.title} does not match {result.preference.describe()}"
