"""The demo shop as a storefront API client, on the running stack: similar products on product pages, the
text query behind the search box, and the browser panel on a server-minted session token, sending
impressions and clicks that land on the feedback topic under the shop's tenant."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from interarec.v1 import feedback_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.common.keys import session_key
from services.common.topics import FEEDBACK, SUMMARIES
from services.demo_shop.session import COOKIE
from services.shoppers.shopper import chromium_launch_options, chromium_path
from tests.integration.test_storefront_api import records_for
from tests.support import latest, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(chromium_path()).exists(), reason="needs Chromium (INTERAREC_CHROMIUM_PATH)"),
]
PICK_IDS = re.compile(r'<section class="rec-extra" id="{}">(.*?)</section>', re.S)
CARD = re.compile(r'data-product-id="(P\d{5})"')


def picks(html: str, section: str) -> list[str]:
    m = re.search(PICK_IDS.pattern.format(section), html, re.S)
    return CARD.findall(m.group(1)) if m else []


def test_product_pages_show_similar_products_and_search_offers_the_text_query(stack, catalog_path):
    catalog = Catalog.load(catalog_path)
    product = catalog.products[5]
    page = httpx.get(f"{stack.shop_url}/p/{product.product_id}", timeout=10)
    similar = picks(page.text, "similar-products")
    assert page.status_code == 200 and 1 <= len(similar) <= 4 and product.product_id not in similar
    assert {catalog.by_id[pid].category for pid in similar} == {product.category}
    search = httpx.get(f"{stack.shop_url}/search", params={"q": "black shoes under $120"}, timeout=10)
    found = picks(search.text, "query-picks")
    assert found and all(catalog.by_id[p].category == "Footwear" and catalog.by_id[p].colour == "Black"
                         and catalog.by_id[p].price <= 120 for p in found)


def shop_session(page_html: str) -> str:
    return re.search(r'data-session="([^"]+)"', page_html).group(1)


def test_panel_token_is_minted_by_the_shop_for_its_visitor_only(stack):
    victim = f"tok-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack.shop_url, timeout=10) as shop:
        sid = shop_session(shop.get("/").text)  # the shop issues the visitor's session
        # a chosen ?session= (a link planted by someone who knows the victim's id) is ignored
        minted = shop.get("/panel-token", params={"session": victim})
        assert minted.status_code == 200 and minted.headers["cache-control"] == "no-store"
        token = minted.json()["token"]
    with httpx.stream("GET", f"{stack.storefront_url}/v1/sessions/{sid}/stream", params={"token": token},
                      timeout=10) as resp:
        assert resp.status_code == 200
    for other in (victim, "someone-else"):
        resp = httpx.get(f"{stack.storefront_url}/v1/sessions/{other}/recommendations", params={"token": token})
        assert resp.status_code == 403


def test_browser_panel_streams_with_a_token_and_reports_impressions_and_clicks(stack, catalog_path):
    from playwright.sync_api import sync_playwright

    catalog = Catalog.load(catalog_path)
    with httpx.Client(base_url=stack.shop_url, timeout=10) as shop:  # the shop issues the session and its cookie
        first = shop.get("/")
        sid, cookie = shop_session(first.text), first.cookies.get(COOKIE)
    brand = catalog.brands[1]
    viewed = [p for p in catalog.products if p.brand == brand][:3]
    summary = summaries_pb2.BehaviourSummary(session_id=sid, tenant="demo", window_seq=1, backend="embedded",
                                             narrative=f"viewed {brand}")
    summary.brands.add(value=brand, weight=1.0)
    for p in viewed:
        summary.viewed_products.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                                    colour=p.colour, price=p.price, frames=2, confidence=1.0)
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap)
    producer.send(SUMMARIES.name, key=session_key("demo", sid).encode(), value=summary.SerializeToString())
    producer.flush()
    producer.close()
    rec = wait_for(lambda: latest(stack, sid), 60)
    assert rec is not None and rec["items"]
    shown = [i["product_id"] for i in rec["items"]]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch_options())
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": COOKIE, "value": cookie, "url": stack.shop_url}])  # the same visitor
            page = context.new_page()
            page.goto(f"{stack.shop_url}/")
            assert shop_session(page.content()) == sid
            page.wait_for_selector("#rec-items a.rec-card", timeout=30_000)
            assert page.eval_on_selector_all("#rec-items a.rec-card", "els => els.map(e => e.dataset.productId)") \
                == shown
            page.click("#rec-items a.rec-card >> nth=0")
            page.wait_for_url(re.compile(r"/p/P\d{5}"), timeout=10_000)
            time.sleep(1.0)  # the keepalive click report outlives the navigation; give it a moment
        finally:
            browser.close()

    def reported():
        events = []
        for r in records_for(stack.bootstrap, FEEDBACK.name, session_key("demo", sid).encode(), timeout_s=3):
            fb = feedback_pb2.Feedback()
            fb.ParseFromString(r.value)
            events.append((fb.tenant, fb.event, fb.product_id, fb.window_seq))
        clicks = [e for e in events if e[1] == feedback_pb2.FEEDBACK_EVENT_CLICK]
        return events if clicks and len(events) >= len(shown) + 1 else None

    events = wait_for(reported, 20)
    assert events is not None, "the panel's impressions and click never reached the feedback topic"
    # one impression per product per page view showing the panel (the product page the click opened shows
    # the panel again, so it may add a second round)
    impressions = [e[2] for e in events if e[1] == feedback_pb2.FEEDBACK_EVENT_IMPRESSION]
    assert set(impressions) == set(shown) and len(impressions) % len(shown) == 0
    assert [(e[0], e[2]) for e in events if e[1] == feedback_pb2.FEEDBACK_EVENT_CLICK] == [("demo", shown[0])]
    assert {e[3] for e in events} == {rec["window_seq"]}
