"""The scripted shopper: real headless Chromium browsing the demo shop like a person while its viewport
is captured and streamed to the gateway.

Selectors it relies on are the same in every demo-shop layout (services/demo_shop/templates/*) and never
shown on screen: `#search-input`, `[data-role=category-link][data-category=..]`, `#filter-brand`,
`#filter-colour`, `#filter-price-min`, `#filter-price-max`, `#filter-apply`,
`[data-role=product-link][data-product-id=..]` (inside `main`, so the recommendation panel is never
clicked), `[data-role=product-title]`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from services.capture.frames import Accepted, FrameStreamer, FrameUploader
from services.common.catalog import Catalog
from services.common.keys import valid_session_id
from services.shoppers.scenarios import Preference, Scenario, build_scenario
from services.shoppers.settings import ShopperSettings

log = logging.getLogger("interarec.capture")

VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 # Paint holding shows the previous page until the next one paints, so a screenshot taken
                 # just after a navigation would pair the new URL with the old page's pixels.
                 "--disable-features=PaintHolding"]
NAV_TIMEOUT_MS = 15_000
PRODUCT_TITLE = "[data-role=product-title]"
# How long a pointer click may wait for its target to be uncovered before the shopper uses the keyboard.
COVERED_WAIT_MS = 4_000
# A person's pace in the two helpers below, (shortest, longest) drawn uniformly; named once because the in-session
# simulator (infra/bench/insession_sim.py) times its shoppers with the same ones.
KEY_DELAY_MS = (55, 95)  # between two characters typed in the search box
SEARCH_SUBMIT_S = (0.2, 0.4)  # the query typed, before pressing Enter
BEFORE_CLICK_S = (0.3, 0.6)  # a product's card scrolled into view, before clicking it


def product_link(product_id: str) -> str:
    """A product's link in the page body (listing tile, comparison column), never the recommendation panel."""
    return f'main [data-role=product-link][data-product-id="{product_id}"]'


def chromium_path() -> str:
    return ShopperSettings.from_env().chromium_path


def chromium_launch_options(headless: bool = True) -> dict:
    """The keyword arguments of every `pw.chromium.launch(...)` (sync or async Playwright): the configured browser
    (INTERAREC_CHROMIUM_PATH) with our flags, so the shoppers, the benchmarks and the tests drive the same Chromium."""
    return {"executable_path": chromium_path(), "args": CHROMIUM_ARGS, "headless": headless}


async def _click_or_focus(target, timeout_ms: int) -> bool:
    """Click `target` if a pointer click would land on it (True), else focus it (False): something the shop floats
    over the page (a cookie banner that stays, a sticky bar) still covers it after the browser's own
    scroll-into-view retries. Nothing here knows any theme: it only asks the browser whether the click would land."""
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    try:
        await target.click(trial=True, timeout=min(COVERED_WAIT_MS, timeout_ms))
    except PlaywrightTimeoutError:
        await target.focus(timeout=timeout_ms)
        return False
    await target.click(timeout=timeout_ms)
    return True


async def press(locator, timeout_ms: int = NAV_TIMEOUT_MS) -> None:
    """Activate a link or button as a person does: click it, or, when a shop's overlay keeps covering it (a
    "Next" link at the very bottom under a fixed cookie bar), tab to it and press Enter."""
    target = locator.first
    if not await _click_or_focus(target, timeout_ms):
        await target.press("Enter", timeout=timeout_ms)


async def type_search(page, text: str, rng: random.Random, pause, timeout_ms: int = NAV_TIMEOUT_MS) -> None:
    """Search as a person does: type into the search box at a human pace, press Enter, wait for the results."""
    box = page.locator("#search-input")
    await _click_or_focus(box, timeout_ms)
    await box.fill("")
    # One timeout per keystroke, not one for the whole text: a page busy for a moment (its capture script
    # rendering a frame on a loaded machine) slows the typing, and only a page that stops answering fails it.
    delay = rng.randint(*KEY_DELAY_MS)
    for char in text:
        await box.press_sequentially(char, delay=delay, timeout=timeout_ms)
    await pause(*SEARCH_SUBMIT_S)
    await box.press("Enter")
    await page.wait_for_url("**/search?**", timeout=timeout_ms)


async def open_product_page(page, shop_url: str, pid: str, card, pause, timeout_ms: int = NAV_TIMEOUT_MS) -> None:
    """Open a product page as a person does: click its card when the page shows one, else go to its URL;
    return once the product page is on screen."""
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    if await card.count():
        await card.first.scroll_into_view_if_needed()
        await pause(*BEFORE_CLICK_S)
        await press(card, timeout_ms)
        try:
            await page.wait_for_url(f"**/p/{pid}", timeout=timeout_ms)
        except PlaywrightTimeoutError:
            # The click did not navigate: it landed as the page moved under it (the live panel re-rendering) or
            # was lost on a loaded machine (`make run` beside a test run failed so). A person tries again; the
            # product's own URL is the one way that cannot miss.
            log.info("a click on %s's card did not open it; opening its URL", pid)
            await page.goto(f"{shop_url}/p/{pid}", wait_until="domcontentloaded")
    else:
        await page.goto(f"{shop_url}/p/{pid}", wait_until="domcontentloaded")
    await page.locator(PRODUCT_TITLE).wait_for(timeout=timeout_ms)


@dataclass
class ShopperResult:
    session_id: str
    preference: Preference
    opened_product_ids: list[str] = field(default_factory=list)
    frames_sent: int = 0
    frames_failed: int = 0
    frames_dropped: int = 0
    elapsed_s: float = 0.0
    accepted: list[Accepted] = field(default_factory=list)  # where Kafka stored each frame the gateway took


class _Browse:
    """One scripted visit; every pause is drawn from the scenario's seeded RNG."""

    def __init__(self, page, shop_url: str, scenario: Scenario, catalog: Catalog, rng: random.Random,
                 progress: Callable[[str], None], dwell: tuple[float, float],
                 on_page_ready: Callable[[], Awaitable[None]]):
        self.page = page
        self.on_page_ready = on_page_ready
        self.shop = shop_url.rstrip("/")
        self.scenario = scenario
        self.catalog = catalog
        self.rng = rng
        self.progress = progress
        self.dwell = dwell
        self.opened: list[str] = []
        self.listing_url = ""
        self.filtered = False

    async def pause(self, lo: float, hi: float) -> None:
        await asyncio.sleep(self.rng.uniform(lo, hi))

    async def scroll(self, dy: int) -> None:
        await self.page.mouse.move(500 + self.rng.randint(-80, 80), 420 + self.rng.randint(-60, 60))
        await self.page.mouse.wheel(0, dy)

    async def search(self, text: str) -> None:
        await type_search(self.page, text, self.rng, self.pause)

    async def apply_filter(self) -> None:
        """Use the category page's filter form for the preference."""
        pref = self.scenario.preference
        await self.pause(0.8, 1.4)
        if pref.kind == "brand":
            await self.page.select_option("#filter-brand", pref.brand)
        elif pref.kind == "colour":
            await self.page.select_option("#filter-colour", pref.colour)
        else:
            await self.page.locator("#filter-price-min").press_sequentially(f"{pref.price_min:g}", delay=80)
            await self.page.locator("#filter-price-max").press_sequentially(f"{pref.price_max:g}", delay=80)
        await self.pause(0.3, 0.6)
        await press(self.page.locator("#filter-apply"))
        await self.page.wait_for_url("**/c/**?**", timeout=NAV_TIMEOUT_MS)
        self.filtered = True
        self.listing_url = self.page.url
        self.progress(f"filtered {pref.describe()}")
        await self.pause(0.8, 1.4)

    async def enter_listing(self) -> None:
        """From the home page to the listing the shopper picks products from."""
        sc, pref = self.scenario, self.scenario.preference
        if sc.entry == "search":
            await self.search(sc.search_query)
            self.progress(f"searched {sc.search_query!r}")
        else:
            await press(self.page.locator(f'nav [data-role=category-link][data-category="{pref.category}"]'))
            await self.page.wait_for_url(f"**/c/{quote(pref.category)}*", timeout=NAV_TIMEOUT_MS)
            self.progress(f"opened category {pref.category}")
            if sc.apply_filter:
                await self.apply_filter()
        self.listing_url = self.page.url
        await self.pause(1.0, 1.6)
        await self.scroll(self.rng.randint(150, 300))
        await self.pause(0.4, 0.8)

    async def find_card(self, pid: str):
        """The product's card on the listing, narrowing the listing (filter, then search) if it is not there."""
        if self.page.url != self.listing_url:
            await self.page.goto(self.listing_url, wait_until="domcontentloaded")
        card = self.page.locator(product_link(pid))
        if await card.count():
            return card
        p = self.catalog.by_id[pid]
        if "/c/" in self.listing_url and not self.filtered and self.scenario.preference.wants(p):
            await self.apply_filter()  # too many products to scan: narrow down like a person would
        else:
            await self.search(" ".join(p.title.split()[:3]))
        return self.page.locator(product_link(pid))

    async def open_product(self, pid: str, brief: bool) -> None:
        await open_product_page(self.page, self.shop, pid, await self.find_card(pid), self.pause)
        await self.on_page_ready()
        self.opened.append(pid)
        p = self.catalog.by_id[pid]
        note = " - noise" if brief else ""
        self.progress(f"opened {pid} {p.title} (${p.price:,.2f}, {p.colour}, {p.category}){note}")
        # read the page, glance at the description below, come back up
        total = self.rng.uniform(0.9, 1.4) if brief else self.rng.uniform(*self.dwell)
        await asyncio.sleep(total * 0.5)
        await self.scroll(self.rng.randint(120, 260))
        await asyncio.sleep(total * 0.2)
        await self.scroll(-400)
        await asyncio.sleep(total * 0.3)

    async def run(self) -> None:
        await self.pause(1.0, 1.5)
        await self.scroll(self.rng.randint(200, 400))
        await self.pause(0.5, 0.9)
        await self.scroll(-500)
        await self.enter_listing()
        for pid in self.scenario.product_ids:
            await self.open_product(pid, brief=pid == self.scenario.noise_id)
            if pid != self.scenario.product_ids[-1]:
                await self.page.go_back(wait_until="domcontentloaded")
                await self.pause(0.5, 1.0)


async def _nothing() -> None:
    return None


async def _page_session(page) -> str | None:
    """The session id the shop gave this visitor, as the page's capture script reads it (its script tag's
    data-session-id, else the body's data-session)."""
    value = await page.evaluate("document.querySelector('script[data-session-id]')?.dataset.sessionId"
                                " || document.body.dataset.session || ''")
    return value if valid_session_id(value) else None


class _PageFrames:
    """Counts the frames the page's own capture script sent, from the gateway's answers the browser saw (the
    script's counters restart with every page load)."""

    def __init__(self, page, session_id: str):
        self.path = f"/v1/sessions/{quote(session_id)}/frames"
        self.sent = 0
        self.failed = 0
        page.on("response", self._response)

    def _response(self, response) -> None:
        if response.request.method != "POST" or not response.url.endswith(self.path):
            return
        if 200 <= response.status < 300:
            self.sent += 1
        else:
            self.failed += 1


async def run_shopper(shop_url: str, gateway_url: str, api_key: str, session_id: str, scenario: str,
                      catalog: Catalog, seed: int = 7, fps: float = 2.0, headless: bool = True, linger_s: float = 0.0,
                      *, progress: Callable[[str], None] | None = None,
                      dwell: tuple[float, float] = (2.0, 4.0), page_capture: bool = False,
                      on_session: Callable[[str], None] | None = None) -> ShopperResult:
    """Browse the shop with scenario `scenario` ('brand'|'colour'|'price') while streaming viewport frames.

    page_capture: the shop's pages send their own frames (the capture script, capture-js/); the shopper
    only browses, and reports what the page's script sent (gateway_url and api_key are not used). The frames
    then carry the session the shop issued to the browser (result.session_id; session_id only names the run
    until then), told to on_session as soon as it is known."""
    from playwright.async_api import async_playwright

    say = progress or (lambda line: log.info(line, extra={"session_id": session_id}))
    plan = build_scenario(scenario, catalog, seed)
    result = ShopperResult(session_id=session_id, preference=plan.preference)
    say(f"session {session_id}: hidden preference {plan.kind} = {plan.preference.describe()}, "
        f"{len(plan.product_ids)} products to open")
    started = time.monotonic()
    async with async_playwright() as pw, httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
        browser = await pw.chromium.launch(**chromium_launch_options(headless))
        try:
            context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            page = await context.new_page()
            page.set_default_timeout(NAV_TIMEOUT_MS)
            # The shop issues its own visitor session (a signed cookie) and ignores one chosen in the URL.
            await page.goto(f"{shop_url.rstrip('/')}/", wait_until="domcontentloaded")
            streamer = uploader = counts = None
            if page_capture:
                # the page's script sends frames under the session the shop issued: follow that one
                session_id = result.session_id = await _page_session(page) or session_id
                say(f"the shop issued session {session_id}")
                if on_session is not None:
                    on_session(session_id)
                counts = _PageFrames(page, session_id)
            else:
                uploader = FrameUploader(client, gateway_url, api_key, session_id)
                streamer = FrameStreamer(page, uploader, fps=fps)
                await streamer.start()
            browse = _Browse(page, shop_url, plan, catalog, random.Random(f"browse:{scenario}:{seed}"), say, dwell,
                             on_page_ready=streamer.capture_now if streamer else _nothing)
            try:
                await browse.run()
                if linger_s > 0:
                    say(f"lingering {linger_s:g} s on {page.url}")
                    await asyncio.sleep(linger_s)
            finally:
                result.opened_product_ids = browse.opened
                if streamer is not None:
                    await streamer.stop()
                    result.frames_sent, result.frames_failed = uploader.sent, uploader.failed
                    result.frames_dropped = streamer.dropped
                    result.accepted = list(uploader.accepted)
                else:
                    await asyncio.sleep(2.0)  # the last page's frame may still be on its way
                    result.frames_sent, result.frames_failed = counts.sent, counts.failed
        finally:
            await browser.close()
    result.elapsed_s = time.monotonic() - started
    say(f"frames: {result.frames_sent} sent, {result.frames_failed} failed"
        + (f", {result.frames_dropped} dropped" if result.frames_dropped else ""))
    return result
