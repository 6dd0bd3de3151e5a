"""The in-session panel on hundreds of simulated sessions per persona type: each persona's browsing plan
(services/shoppers/personas.py, the plan the captured shoppers follow) turned into what a perfect reader would
observe, page visit by page visit, and fed through the real window state machine, summary, rules decomposer and
optimizer on the capture clock; scored with the eval's own in-session metric (services/eval/insession.py).

No browser, no OCR: every page is read right, so what moves the figures is the rules and the shoppers' own
behaviour. The page visits follow services/shoppers/persona_shopper.py: the home page, a category listing (and the
filter form), paging up to two listing pages further for a product, else a search for its name, the product page
for the persona's dwell, back to the listing, the compare page; frames at 2 per second, each visit's first two
read (later frames of a visit are near-duplicates, as scroll-free captures are). Pauses are drawn with the
session's own rng in the shopper's ranges.

    python -m infra.bench.insession_sim [--personas FILE] [--only ID ...] [--sessions 100] [--seed-offset 100000]
        [--trace] [--drops]

`--seed-offset 0 --sessions 1` replays a draw's own seeds (e.g. --personas services/shoppers/personas-heldout3.toml).
"""

from __future__ import annotations

import argparse
import random
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote_plus

from services.common import config
from services.common.catalog import Catalog
from services.common.settings import from_env
from services.core.reading import filters as chips
from services.core.reading.grounding import Observation
from services.core.reading.summary import summarize
from services.core.reading.window import FrameMeta, SessionState, add_frame, close_idle, should_process
from services.demo_shop.app import PAGE_SIZE
from services.demo_shop.queries import CategoryFilters, SearchIndex, featured, filter_category
from services.eval import insession as ins
from services.eval.replay import Replay, WindowResult, describe_constraints, solve_panel
from services.eval.runner import persona_intents
from services.shoppers.persona_shopper import (
    AFTER_BACK_S,
    BRIEF_READ_S,
    FILTER_APPLY_S,
    FILTER_START_S,
    FIRST_LOOK_S,
    HOME_BACK_UP_S,
    HOME_SCROLLED_S,
    LISTING_BACK_UP_S,
    LISTING_SCROLLED_S,
    NEXT_PAGE_S,
    PRICE_KEY_DELAY_MS,
)
from services.shoppers.personas import LIBRARY, LISTING_PAGES, Persona, load, resolve
from services.shoppers.shopper import BEFORE_CLICK_S, KEY_DELAY_MS, SEARCH_SUBMIT_S
from services.summarizer.settings import SummarizerSettings

FRAME_S = 0.5  # the capture client's 2 frames a second
READS_PER_VISIT = 2  # a visit's first frames are always read (window.MIN_READS_PER_VISIT); the rest repeat them
NAV_S = (0.2, 0.5)  # click to the new page on screen
SHOP_SORTS = {"popular": "relevance", "rating": "rating_desc", "price_asc": "price_asc", "price_desc": "price_desc"}
SHOWN = 4  # listing cards a first frame reads


@dataclass(frozen=True)
class Visit:
    """One page on screen from `start_s` to `end_s`, and what a perfect reader reads on it."""

    url: str
    observation: Observation
    start_s: float
    end_s: float


# --- step -> observation: what a perfect reader reads on each page -------------------------------------------

def home_observation(catalog: Catalog) -> Observation:
    return Observation(kind="home", listing_product_ids=[p.product_id for p in featured(catalog, SHOWN)])


def listing_observation(category: str, filters: dict, items: list[str]) -> Observation:
    """A category listing: its breadcrumb's category, the filter form's chips and its sort control."""
    chip_list = [chips.term(f, filters[f]) for f in ("brand", "colour") if filters.get(f)]
    if filters.get("price_min") is not None or filters.get("price_max") is not None:
        chip_list.append(chips.price(filters.get("price_min"), filters.get("price_max")))
    return Observation(kind="listing", category=category, filters=chip_list,
                       sort_order=SHOP_SORTS[filters.get("sort", "popular")], listing_product_ids=items[:SHOWN])


def search_observation(query: str, items: list[str]) -> Observation:
    return Observation(kind="search", search_query=query, listing_product_ids=items[:SHOWN])


def product_observation(pid: str, catalog: Catalog) -> Observation:
    p = catalog.by_id[pid]
    return Observation(kind="product", product_id=pid, product_confidence=1.0, category=p.category,
                       prices=[p.price], brands=[p.brand], colours=[p.colour], rating_read=p.rating,
                       picture_colour=p.colour)


def compare_observation(ids: list[str]) -> Observation:
    return Observation(kind="listing", compared_product_ids=ids)


# --- the shopper's walk through the shop (persona_shopper.py), as page visits ----------------------------------

@dataclass
class _Listing:
    url: str  # without the page number
    items: list[str]  # every product of the listing, in the shop's order
    observe: object  # items of one page -> Observation
    page: int = 1

    @property
    def page_items(self) -> list[str]:
        return self.items[(self.page - 1) * PAGE_SIZE: self.page * PAGE_SIZE]

    @property
    def page_url(self) -> str:
        return self.url if self.page == 1 else f"{self.url}{'&' if '?' in self.url else '?'}page={self.page}"


class _Walk:
    def __init__(self, persona: Persona, catalog: Catalog, rng: random.Random):
        self.persona, self.catalog, self.rng = persona, catalog, rng
        self.search = SearchIndex(catalog)
        self.t = 0.0
        self.visits: list[Visit] = []
        self.listing: _Listing | None = None
        self.category = ""

    def pause(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def go(self, url: str, observation: Observation) -> None:
        """Navigate: the old page stays on screen until the new one renders."""
        self.pause(*NAV_S)
        if self.visits:
            self.visits[-1] = replace(self.visits[-1], end_s=self.t)
        self.visits.append(Visit(url, observation, self.t, self.t))

    def show_listing(self, listing: _Listing) -> None:
        self.listing = listing
        self.go(listing.page_url, listing.observe(listing.page_items))

    def browse_listing(self) -> None:
        self.pause(*FIRST_LOOK_S)
        self.pause(*LISTING_SCROLLED_S)
        self.pause(*LISTING_BACK_UP_S)

    def open_category(self, name: str, filters: dict) -> None:
        self.category = name
        items = [p.product_id for p in filter_category(self.catalog, name, CategoryFilters(**filters))]
        query = "&".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={quote_plus(v)}" for k, v in filters.items())
        self.show_listing(_Listing(f"/c/{quote_plus(name)}" + (f"?{query}" if query else ""), items,
                                   lambda shown, f=dict(filters), c=name: listing_observation(c, f, shown)))
        self.browse_listing()

    def type_search(self, text: str) -> None:
        self.t += len(text) * self.rng.uniform(KEY_DELAY_MS[0] / 1000, KEY_DELAY_MS[1] / 1000)
        self.pause(*SEARCH_SUBMIT_S)
        items = [p.product_id for p in self.search.search(text)]
        self.show_listing(_Listing(f"/search?q={quote_plus(text)}", items,
                                   lambda shown, q=text: search_observation(q, shown)))
        self.browse_listing()

    def filter(self, f: dict) -> None:
        self.pause(*FILTER_START_S)
        self.t += sum(len(f"{f[k]:g}") * (PRICE_KEY_DELAY_MS / 1000) for k in ("price_min", "price_max") if k in f)
        self.pause(*FILTER_APPLY_S)
        self.open_category(self.category, f)

    def find_card(self, pid: str) -> bool:
        """On the listing's page, or up to LISTING_PAGES - 1 pages further, else looked up by name."""
        listing = self.listing
        if listing is not None and self.visits[-1].url != listing.page_url:
            self.show_listing(listing)
        if listing is not None and pid in listing.page_items:
            return True
        for _ in range(LISTING_PAGES - 1):
            if listing is None or listing.page * PAGE_SIZE >= len(listing.items):
                break
            self.pause(*NEXT_PAGE_S)
            listing.page += 1
            self.show_listing(listing)
            self.browse_listing()
            if pid in listing.page_items:
                return True
        self.type_search(" ".join(self.catalog.by_id[pid].title.split()[:3]))
        return pid in self.listing.page_items

    def read_page(self, brief: bool) -> None:
        self.t += self.rng.uniform(*BRIEF_READ_S) if brief else self.rng.uniform(*self.persona.dwell)

    def back(self) -> None:
        if self.listing is not None:
            self.go(self.listing.page_url, self.listing.observe(self.listing.page_items))
        self.pause(*AFTER_BACK_S)

    def open(self, pid: str, brief: bool) -> None:
        if self.find_card(pid):
            self.pause(*BEFORE_CLICK_S)
        self.go(f"/p/{pid}", product_observation(pid, self.catalog))
        self.read_page(brief)
        self.back()

    def compare(self, ids: str) -> None:
        self.go(f"/compare?ids={quote_plus(ids)}", compare_observation(ids.split(",")))
        self.read_page(False)
        self.back()

    def step(self, s) -> None:
        if s.kind == "home":
            self.pause(*HOME_SCROLLED_S)
            self.pause(*HOME_BACK_UP_S)
        elif s.kind == "category":
            self.open_category(s.arg, {})
        elif s.kind == "search":
            self.type_search(s.arg)
        elif s.kind == "filter":
            self.filter(s.filters)
        elif s.kind == "open":
            self.open(s.arg, s.brief)
        elif s.kind == "compare":
            self.compare(s.arg)


def visits(persona: Persona, catalog: Catalog, rng: random.Random) -> list[Visit]:
    """The persona's steps as the page visits a shopper makes, timed with `rng`."""
    walk = _Walk(persona, catalog, rng)
    walk.visits.append(Visit("/", home_observation(catalog), 0.0, 0.0))
    walk.pause(*FIRST_LOOK_S)
    for s in persona.steps:
        walk.step(s)
    walk.visits[-1] = replace(walk.visits[-1], end_s=walk.t)
    return walk.visits


def frames(visit_list: list[Visit], rng: random.Random) -> list[tuple[dict, int, Observation | None]]:
    """(frame, hash, observation when read) at 2 a second plus one as each page renders; a visit's frames share
    its hash, so after its first reads the window drops them as near-duplicates."""
    out: list[tuple[dict, int, Observation | None]] = []
    for v in visit_list:
        h = rng.getrandbits(64)
        t, n = v.start_s, 0
        while n == 0 or t < v.end_s:
            seq = len(out) + 1
            obs = replace(v.observation, page_url=v.url, frame_seq=seq, capture_ms=int(t * 1000))
            out.append(({"seq": seq, "capture_ms": int(t * 1000), "url": v.url}, h, obs if n < READS_PER_VISIT
                        else None))
            n += 1
            t = (int(t / FRAME_S) + 1) * FRAME_S  # the next tick of the capture clock
    return out


# --- the pipeline, on the capture clock ------------------------------------------------------------------------

def run_session(persona: Persona, catalog: Catalog, rng: random.Random, k: int = 8, memo: dict | None = None
                ) -> Replay:
    """The simulated session through window -> summary -> decompose -> optimizer, as replay.replay_session does
    with a recorded one (no OCR, every panel counted from its window's close)."""
    settings = from_env(SummarizerSettings)
    memo = {} if memo is None else memo
    stream = frames(visits(persona, catalog, rng), rng)
    out = Replay(Path(persona.id), {"started_ms": 0}, [f for f, _, _ in stream])
    state = SessionState()

    def emit(window) -> None:
        summary = summarize("sim", "sim", window, window.history, catalog)
        key = _memo_key(summary)
        if key not in memo:
            request, items = solve_panel(summary, catalog, k)
            memo[key] = (describe_constraints(request.constraints), items)
        constraints, items = memo[key]
        out.windows.append(WindowResult(window.window_seq, window.last_capture_ms, 0.0, items, [],
                                        [v.product_id for v in summary.viewed_products], constraints,
                                        summary.narrative, closed_ms=window.closed_ms, reason=window.reason,
                                        first_capture_ms=window.first_capture_ms, shown_ms=window.closed_ms,
                                        frame_seqs=list(window.frame_seqs)))

    for f, h, obs in stream:
        meta = FrameMeta(frame_seq=f["seq"], capture_ms=f["capture_ms"], page_url=f["url"])
        idle = close_idle(state, f["capture_ms"], settings.idle_ms)
        if idle is not None:
            emit(idle)
        read = obs if should_process(state, meta, h) else None
        if read is not None:
            out.observations[f["seq"]] = read.to_dict()
        for window in add_frame(state, meta, h, read, f["capture_ms"], max_frames=settings.window_frames):
            emit(window)
    last = close_idle(state, stream[-1][0]["capture_ms"] + settings.idle_ms, settings.idle_ms)
    if last is not None:
        emit(last)
    return out


def _memo_key(summary) -> bytes:
    """The summary without the fields the decomposer only copies (window number, frame counts, close reason,
    trace): equal keys give the same constraints and panel."""
    s = type(summary)()
    s.CopyFrom(summary)
    for name in ("window_seq", "frames_in_window", "frames_dropped_duplicate", "window_close_reason", "trace",
                 "narrative"):
        s.ClearField(name)
    return s.SerializeToString(deterministic=True)


def _capture_clock(replay: Replay, persona: Persona, catalog: Catalog):
    """(panel timeline, intents, first product view, end) with each panel from its window's close."""
    first_view, intents = persona_intents(replay, persona, catalog)
    timeline = [(w.closed_ms / 1000, w.items) for w in replay.windows]
    return timeline, intents, first_view, replay.frames[-1]["capture_ms"] / 1000


def measure(replay: Replay, persona: Persona, catalog: Catalog) -> ins.InSession | None:
    """The eval's in-session metrics on the capture clock (insession_hops.breakdown's capture_clock)."""
    return ins.measure(*_capture_clock(replay, persona, catalog))


def drop_windows(replay: Replay, persona: Persona, catalog: Catalog) -> list[tuple[WindowResult, WindowResult]]:
    """(window before, window at) each drop the metric counts (`insession.drop_times`): what changed there."""
    timeline, intents, first_view, end = _capture_clock(replay, persona, catalog)
    if first_view is None:
        return []
    out = []
    for t in ins.drop_times(timeline, intents, first_view, end):
        at = max(i for i, w in enumerate(replay.windows) if w.closed_ms / 1000 <= t)  # the panel shown from t
        if at > 0:
            out.append((replay.windows[at - 1], replay.windows[at]))
    return out


# --- the benchmark ---------------------------------------------------------------------------------------------

def personas_of(raw: dict, catalog: Catalog, n: int, offset: int) -> list[Persona]:
    """The persona type resolved with n fresh seeds (seed + offset + i): new hidden preferences and plans."""
    return [resolve({**raw, "seed": int(raw["seed"]) + offset + i}, catalog) for i in range(n)]


def _pct(values: list[float], q: float) -> str:
    value = ins.quantile(values, q)
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--personas", default=str(LIBRARY))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seed-offset", type=int, default=100000)
    parser.add_argument("--trace", action="store_true", help="print every session window by window")
    parser.add_argument("--drops", action="store_true", help="print the windows before and at each drop")
    args = parser.parse_args(argv)
    from infra.bench.insession_hops import trace
    catalog = Catalog.load(config.catalog_path())
    raws = [r for r in load(Path(args.personas)) if not args.only or r["id"] in args.only]
    print("| persona | sessions | share | first good median / p90 s | sessions with a drop | mean drops | "
          "switch followed median / p90 s (never) |")
    print("|---|---|---|---|---|---|---|")
    total: list[ins.InSession] = []
    for raw in raws:
        memo: dict = {}
        rows = []
        for persona in personas_of(raw, catalog, args.sessions, args.seed_offset):
            replay = run_session(persona, catalog, random.Random(f"sim:{persona.id}:{persona.seed}"), memo=memo)
            m = measure(replay, persona, catalog)
            if m is None:
                continue
            rows.append(m)
            if args.trace:
                print("\n" + "\n".join(trace(replay, persona, catalog)) + "\n")
            if args.drops and m.drops and not m.switched:
                for before, at in drop_windows(replay, persona, catalog):
                    print(f"DROP {persona.id} seed={persona.seed} wants {persona.describe()} "
                          f"at {at.closed_ms / 1000:.1f} s viewed {at.viewed}\n  before: {before.constraints}\n"
                          f"  at:     {at.constraints}")
        total += rows
        good = [m.first_good_s for m in rows if m.first_good_s is not None]
        single = [m for m in rows if not m.switched]
        dropped = sum(1 for m in single if m.drops)
        follow = [m.follow_s for m in rows if m.switched and m.follow_s is not None]
        never = sum(1 for m in rows if m.switched and m.follow_s is None)
        print(f"| {raw['id']} | {len(rows)} | {statistics.mean(m.share for m in rows):.3f} | "
              f"{_pct(good, 0.5)} / {_pct(good, 0.9)} | "
              + (f"{dropped} ({100 * dropped / len(single):.0f} %) | {statistics.mean(m.drops for m in single):.2f} | "
                 if single else "- | - | ")
              + (f"{_pct(follow, 0.5)} / {_pct(follow, 0.9)} ({never}) |" if follow or never else "- |"), flush=True)
    single = [m for m in total if not m.switched]
    good = [m.first_good_s for m in total if m.first_good_s is not None]
    follow = [m.follow_s for m in total if m.switched and m.follow_s is not None]
    dropped = sum(1 for m in single if m.drops)
    print(f"| **all** | {len(total)} | {statistics.mean(m.share for m in total):.3f} | "
          f"{_pct(good, 0.5)} / {_pct(good, 0.9)} | {dropped} ({100 * dropped / max(1, len(single)):.1f} %) | "
          f"{statistics.mean(m.drops for m in single) if single else 0:.3f} | "
          f"{_pct(follow, 0.5)} / {_pct(follow, 0.9)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
