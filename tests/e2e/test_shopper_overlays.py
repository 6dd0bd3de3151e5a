"""The scripted shoppers on a shop whose overlays never go away: theme-2 of the demo shop keeps a cookie bar
fixed at the bottom of the viewport (its buttons do nothing) and a sticky header, so the listing's "Next"
link, last on the page, can never be scrolled out from under the bar. A pointer click waits forever there
(the evaluation's held-out capture on theme-2 failed on it); the shopper must still page on like a person
would, with the keyboard; and a card click that does not navigate must still open the product. Real headless
Chromium against the real demo shop; a few seconds."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from infra.local.served import Served
from services.common.catalog import Catalog
from services.demo_shop.app import create_app
from services.demo_shop.themes import theme
from services.shoppers.shopper import (
    VIEWPORT,
    chromium_launch_options,
    chromium_path,
    open_product_page,
    press,
    product_link,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(chromium_path()).exists(), reason="needs Chromium (INTERAREC_CHROMIUM_PATH)"),
]

THEME = 2
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def shop_url(catalog_path):
    assert theme(THEME).cookie_banner == "bar", "the premise: this theme's cookie bar covers the page bottom"
    app = create_app(Catalog.load(catalog_path), "http://127.0.0.1:9", layout=f"theme-{THEME}")
    with Served(app, lifespan=False, ready_path=None) as served:
        yield served.url


@contextlib.asynccontextmanager
async def _footwear_listing(shop_url: str):
    """A real headless Chromium page on the shop's Footwear listing."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium_launch_options())
        try:
            page = await browser.new_page(viewport=VIEWPORT)
            await page.goto(f"{shop_url}/c/Footwear", wait_until="domcontentloaded")
            yield page
        finally:
            await browser.close()


async def _page_on(shop_url: str) -> tuple[bool, str]:
    """(whether a plain pointer click on "Next" could land, the URL after the shopper pressed it)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    async with _footwear_listing(shop_url) as page:
        nxt = page.locator("a[rel=next]")
        assert await nxt.count() == 1
        try:
            await nxt.first.click(trial=True, timeout=3_000)
            clickable = True
        except PlaywrightTimeoutError:
            clickable = False
        await press(nxt, TIMEOUT_MS)
        await page.wait_for_url("**page=2*", timeout=TIMEOUT_MS)
        return clickable, page.url


def test_the_shopper_pages_on_under_a_cookie_bar_that_never_goes_away(shop_url: str) -> None:
    clickable, url = asyncio.run(_page_on(shop_url))
    assert not clickable, "the cookie bar no longer covers Next: this test no longer tests the fallback"
    assert "page=2" in url


async def _open_with_a_lost_click(shop_url: str) -> tuple[str, str]:
    """(the product opened, the URL after the shopper opened it) for a listing card whose first click is swallowed
    (as a click is that lands while the page moves under it)."""
    async with _footwear_listing(shop_url) as page:
        card = page.locator("main [data-role=product-link][data-product-id]").first
        pid = await card.get_attribute("data-product-id")
        await page.evaluate("document.addEventListener('click', e => e.preventDefault(), {capture: true, once: true})")

        async def no_pause(low: float, high: float) -> None:
            return None

        await open_product_page(page, shop_url, pid, page.locator(product_link(pid)), no_pause, 3_000)
        return pid, page.url


def test_a_card_click_that_does_not_navigate_still_opens_the_product(shop_url):
    # `make run` failed once beside a test run: the scripted shopper's click on a card did not navigate and it
    # waited for the product page until its timeout. It must open the product anyway, as a person would.
    pid, url = asyncio.run(_open_with_a_lost_click(shop_url))
    assert url.split("?")[0].endswith(f"/p/{pid}")
