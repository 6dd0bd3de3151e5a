"""A persona from the library (services/shoppers/personas.py) browsing the demo shop in real headless Chromium:
search, the filter form, scrolling listings, dwelling on product pages, the compare page, going back.

Every viewport frame is saved to disk (so the session can be replayed without a browser) and, when a gateway
is given, also streamed to it like any capture client. Selectors are the hidden data-role ones both shop
layouts share (see services/shoppers/shopper.py)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from services.capture.frames import Frame, FrameStreamer, FrameUploader
from services.common.catalog import Catalog
from services.shoppers.personas import LISTING_PAGES, Persona, Step
from services.shoppers.shopper import (
    VIEWPORT,
    chromium_launch_options,
    open_product_page,
    press,
    product_link,
    type_search,
)

FRAMES_INDEX = "frames.jsonl"
# Evaluation runs share a busy machine: give navigations more time than the interactive shopper does.
NAV_TIMEOUT_MS = 45_000
# The persona's pauses, (shortest, longest) seconds drawn uniformly from its seeded RNG; named once because the
# in-session simulator (infra/bench/insession_sim.py) times its walk through the shop with the same ones.
FIRST_LOOK_S = (0.8, 1.4)  # a page just shown (a listing, the shop at the start), before the first move
LISTING_SCROLLED_S = (0.6, 1.2)  # a listing scrolled down, before scrolling back up
LISTING_BACK_UP_S = (0.3, 0.6)  # a listing scrolled back up, before the next step
HOME_SCROLLED_S = (1.0, 2.0)  # the home page scrolled down, before scrolling back up
HOME_BACK_UP_S = (0.4, 0.8)  # the home page scrolled back up
FILTER_START_S = (0.6, 1.2)  # before setting a listing's filters
FILTER_APPLY_S = (0.3, 0.6)  # the filters set, before applying them
NEXT_PAGE_S = (0.4, 0.8)  # the next-page link in view, before pressing it
BRIEF_READ_S = (0.9, 1.4)  # a page opened by mistake (noise) is read this long; others the persona's dwell
AFTER_BACK_S = (0.4, 0.9)  # back from a product or comparison page
PRICE_KEY_DELAY_MS = 80  # between two characters typed in a price box


class FrameRecorder:
    """Saves every frame as <dir>/<seq>.jpg plus one line of frames.jsonl, then forwards it to an optional
    gateway uploader. Quacks like FrameUploader for FrameStreamer."""

    def __init__(self, directory: Path, session_id: str, forward: FrameUploader | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.session_id = session_id
        self.forward = forward
        self.sent = 0
        self.failed = 0
        self._index = open(self.dir / FRAMES_INDEX, "w")

    async def post(self, frame: Frame) -> bool:
        name = f"{frame.seq:05d}.jpg"
        (self.dir / name).write_bytes(frame.jpeg)
        self._index.write(json.dumps({"seq": frame.seq, "capture_ms": frame.capture_ms, "url": frame.url,
                                      "title": frame.title, "file": name}) + "\n")
        self._index.flush()
        if self.forward is None:
            self.sent += 1
            return True
        ok = await self.forward.post(frame)
        self.sent, self.failed = self.forward.sent, self.forward.failed
        return ok

    def close(self) -> None:
        self._index.close()


@dataclass
class PersonaRun:
    session_id: str
    persona_id: str
    started_ms: int = 0
    opened: list[str] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)  # what the shopper did, when (capture clock, ms)
    frames_sent: int = 0
    frames_failed: int = 0
    elapsed_s: float = 0.0


class _PersonaBrowse:
    def __init__(self, page, shop_url: str, persona: Persona, catalog: Catalog, run: PersonaRun,
                 progress: Callable[[str], None], on_page_ready):
        self.page, self.shop, self.persona, self.catalog = page, shop_url.rstrip("/"), persona, catalog
        self.rng = random.Random(f"browse:{persona.id}:{persona.seed}")
        self.run_info, self.say, self.on_page_ready = run, progress, on_page_ready
        self.listing_url = ""

    def note(self, kind: str, **detail) -> None:
        self.run_info.actions.append({"t_ms": int(time.time() * 1000), "kind": kind, **detail})

    async def pause(self, lo: float, hi: float) -> None:
        await asyncio.sleep(self.rng.uniform(lo, hi))

    async def scroll(self, dy: int) -> None:
        if not self.persona.scroll:
            return
        await self.page.mouse.move(500 + self.rng.randint(-80, 80), 420 + self.rng.randint(-60, 60))
        await self.page.mouse.wheel(0, dy)

    async def browse_listing(self) -> None:
        await self.pause(*FIRST_LOOK_S)
        await self.scroll(self.rng.randint(250, 600))
        await self.pause(*LISTING_SCROLLED_S)
        await self.scroll(-self.rng.randint(100, 300))
        await self.pause(*LISTING_BACK_UP_S)

    async def home(self) -> None:
        await self.scroll(self.rng.randint(200, 500))
        await self.pause(*HOME_SCROLLED_S)
        await self.scroll(-600)
        await self.pause(*HOME_BACK_UP_S)

    async def category(self, name: str) -> None:
        await press(self.page.locator(f'nav [data-role=category-link][data-category="{name}"]'), NAV_TIMEOUT_MS)
        await self.page.wait_for_url(f"**/c/{quote(name)}*", timeout=NAV_TIMEOUT_MS)
        self.listing_url = self.page.url
        self.say(f"opened category {name}")
        await self.browse_listing()

    async def search(self, text: str) -> None:
        await type_search(self.page, text, self.rng, self.pause, NAV_TIMEOUT_MS)
        self.listing_url = self.page.url
        self.say(f"searched {text!r}")
        await self.browse_listing()

    async def filter(self, f: dict) -> None:
        await self.pause(*FILTER_START_S)
        if "brand" in f:
            await self.page.select_option("#filter-brand", f["brand"])
        if "colour" in f:
            await self.page.select_option("#filter-colour", f["colour"])
        for key in ("price_min", "price_max"):
            if key in f:
                box = self.page.locator(f"#filter-{key.replace('_', '-')}")
                await box.fill("")
                await box.press_sequentially(f"{f[key]:g}", delay=PRICE_KEY_DELAY_MS)
        if "sort" in f:
            await self.page.select_option("#filter-sort", f["sort"])
        await self.pause(*FILTER_APPLY_S)
        await press(self.page.locator("#filter-apply"), NAV_TIMEOUT_MS)
        await self.page.wait_for_url("**/c/**?**", timeout=NAV_TIMEOUT_MS)
        self.listing_url = self.page.url
        self.say(f"filtered {f}")
        await self.browse_listing()

    async def find_card(self, pid: str):
        if self.listing_url and self.page.url != self.listing_url:
            await self.page.goto(self.listing_url, wait_until="domcontentloaded")
        card = self.page.locator(product_link(pid))
        if await card.count():
            return card
        for _ in range(LISTING_PAGES - 1):  # page through the listing like a person
            nxt = self.page.locator("a[rel=next]")
            if not await nxt.count():
                break
            await nxt.first.scroll_into_view_if_needed()
            await self.pause(*NEXT_PAGE_S)
            await press(nxt, NAV_TIMEOUT_MS)
            await self.page.wait_for_load_state("domcontentloaded")
            self.listing_url = self.page.url
            await self.browse_listing()
            card = self.page.locator(product_link(pid))
            if await card.count():
                return card
        # not on the listing at all: look it up like a person would, by its name
        await self.search(" ".join(self.catalog.by_id[pid].title.split()[:3]))
        return self.page.locator(product_link(pid))

    async def read_page(self, brief: bool) -> None:
        total = self.rng.uniform(*BRIEF_READ_S) if brief else self.rng.uniform(*self.persona.dwell)
        await asyncio.sleep(total * 0.5)
        await self.scroll(self.rng.randint(150, 400))
        await asyncio.sleep(total * 0.2)
        await self.scroll(-600)
        await asyncio.sleep(total * 0.3)

    async def open(self, pid: str, brief: bool) -> None:
        await open_product_page(self.page, self.shop, pid, await self.find_card(pid), self.pause, NAV_TIMEOUT_MS)
        await self.on_page_ready()
        self.run_info.opened.append(pid)
        p = self.catalog.by_id[pid]
        self.say(f"opened {pid} {p.title} (${p.price:,.2f}, {p.colour}, {p.category}, {p.rating:g}*)"
                 + (" - noise" if brief else ""))
        await self.read_page(brief)
        await self.page.go_back(wait_until="domcontentloaded")
        await self.pause(*AFTER_BACK_S)

    async def compare(self, ids: str) -> None:
        await self.page.goto(f"{self.shop}/compare?ids={quote(ids)}", wait_until="domcontentloaded")
        await self.on_page_ready()
        self.say(f"compared {ids}")
        await self.read_page(brief=False)
        await self.page.go_back(wait_until="domcontentloaded")
        await self.pause(*AFTER_BACK_S)

    async def step(self, s: Step) -> None:
        self.note(s.kind, arg=s.arg, filters=s.filters, brief=s.brief)
        if s.kind == "home":
            await self.home()
        elif s.kind == "category":
            await self.category(s.arg)
        elif s.kind == "search":
            await self.search(s.arg)
        elif s.kind == "filter":
            await self.filter(s.filters)
        elif s.kind == "open":
            await self.open(s.arg, s.brief)
        elif s.kind == "compare":
            await self.compare(s.arg)
        else:
            raise ValueError(f"unknown step {s.kind!r}")


async def run_persona(shop_url: str, persona: Persona, catalog: Catalog, record_dir: Path, session_id: str, *,
                      gateway_url: str | None = None, api_key: str = "", fps: float = 2.0, headless: bool = True,
                      linger_s: float = 0.0, progress: Callable[[str], None] | None = None) -> PersonaRun:
    """Browse as `persona`, saving every frame under record_dir (and streaming it when gateway_url is set)."""
    from playwright.async_api import async_playwright

    say = progress or (lambda line: None)
    run = PersonaRun(session_id=session_id, persona_id=persona.id)
    started = time.monotonic()
    async with async_playwright() as pw, httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
        browser = await pw.chromium.launch(**chromium_launch_options(headless))
        recorder = None
        try:
            context = await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            page = await context.new_page()
            page.set_default_timeout(NAV_TIMEOUT_MS)
            await page.goto(f"{shop_url.rstrip('/')}/", wait_until="domcontentloaded")
            forward = FrameUploader(client, gateway_url, api_key, session_id) if gateway_url else None
            recorder = FrameRecorder(record_dir, session_id, forward)
            streamer = FrameStreamer(page, recorder, fps=fps)
            run.started_ms = int(time.time() * 1000)
            await streamer.start()
            browse = _PersonaBrowse(page, shop_url, persona, catalog, run, say, streamer.capture_now)
            try:
                await browse.pause(*FIRST_LOOK_S)
                for s in persona.steps:
                    await browse.step(s)
                if linger_s > 0:
                    await asyncio.sleep(linger_s)
            finally:
                await streamer.stop()
                run.frames_sent, run.frames_failed = recorder.sent, recorder.failed
        finally:
            if recorder is not None:
                recorder.close()
            await browser.close()
    run.elapsed_s = time.monotonic() - started
    return run
