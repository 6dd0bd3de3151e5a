"""Ground the OCR lines of one screenshot in the catalog: what kind of page, which product, what signals.

A product is *viewed* when its page's heading reads as its catalog title: a SKU line (where a shop prints
one) is cross-checked with the heading; without one, the heading is matched fuzzily and confirmed by the
product's price (and brand) read elsewhere on the page, so a shop that shows no id works the same. The
shop's wording (what marks a product page, a list price, a brand link, a rating, a promotion, our own panel)
comes from the shop profile (profile.py), not from code. Our "Recommended for you" panel is cut out before
anything is read: products seen only there are our recommendations, and counting them would be a feedback
loop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process

from services.common.catalog import Catalog
from services.common.vocabulary import OCR_MIN_SCORE, Vocabulary

from . import filters as chips
from . import prices
from . import sort_order as sorts
from .masthead import below, median_height, text_bar_bottom
from .ocr import OcrLine
from .panel_geometry import PanelGeometry
from .profile import ShopProfile, load_profile

PAGE_KINDS = ("product", "listing", "search", "home", "other")

# OCR confusions of letters for digits in the numeric part of a SKU.
_DIGIT_FIX = str.maketrans({"O": "0", "o": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "l": "1", "i": "1",
                            "|": "1", "!": "1", "L": "1", "J": "1", "T": "7", "S": "5", "s": "5", "B": "8",
                            "Z": "2", "z": "2", "G": "6", "b": "6", "g": "9", "q": "9", "A": "4"})
# A breadcrumb: a short first crumb ("Home", "Shop"), a separator, then the category; tesseract garbles the
# short line often ("bome:/(Backpacks"), so be lenient and ground the category word fuzzily.
_BREADCRUMB_RE = re.compile(r"^\W{0,2}[A-Za-z]{2,8}\s*[:;.]?\s*[/>»›|]+\W{0,2}([A-Za-z][A-Za-z ]+)")
_WORD_RE = re.compile(r"[A-Za-z]+")
_NEVER = re.compile(r"(?!)")  # a cue a shop profile does not give: matches nothing
_STRUCK_GAP = re.compile(r"[\s:;.,|\-–—]{0,4}")  # between a list-price cue and the amount it strikes through

TITLE_ONLY_MIN_SCORE = 95.0   # heading alone grounds a product only if nearly exact ...
TITLE_ONLY_MIN_MARGIN = 3.0   # ... and clearly better than the next title (titles differ by a short code)
TITLE_AGREE_MIN_SCORE = 80.0  # heading supports a SKU read
TITLE_PRICED_MIN_SCORE = 85.0  # without a SKU: a heading this close plus the product's price on the page
TITLE_CANDIDATE_MIN_SCORE = 75.0  # ... or one of the closest titles, the only one whose price is on the page
HEADING_MIN_RATIO = 1.3       # a heading this much taller than the page's typical text may make a page a product page
# ... and once other marks made it one, its title's line may be only this much taller: a title without
# descenders measures ~1.16x a body whose lines mostly have them
TITLE_MIN_RATIO = 1.12
LISTING_MIN_SCORE = 92.0
MIN_LINE_CONF = 30.0


@dataclass
class Observation:
    """What one screenshot shows, grounded in the catalog. Plain data: stored in a Faust table as JSON."""

    kind: str = "other"
    product_id: str | None = None
    product_confidence: float = 0.0
    sku_text: str | None = None             # SKU as read, before normalisation (diagnostics)
    heading: str | None = None
    category: str | None = None             # from the breadcrumb, grounded in catalog categories
    prices: list[float] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    search_query: str | None = None
    filters: list[dict] = field(default_factory=list)  # structured chips (filters.py), e.g. brand Norda, price 50-120
    sort_order: str | None = None           # a listing's chosen order (profile.SORT_ORDERS), when its control was read
    promotions: list[str] = field(default_factory=list)
    reviews_visible: bool = False
    rating_read: float | None = None
    rating_count: int | None = None         # "(123)" beside the stars
    list_prices: list[float] = field(default_factory=list)  # struck-through "List:"/"Was" prices, not paid
    picture_colour: str | None = None       # the product picture's colour, read from its pixels
    compared_product_ids: list[str] = field(default_factory=list)  # columns of a comparison page
    promoted_product_ids: list[str] = field(default_factory=list)  # named by a promotion: never viewed
    listing_product_ids: list[str] = field(default_factory=list)
    recommended_product_ids: list[str] = field(default_factory=list)  # in our panel: never counted as viewed
    page_url: str = ""
    frame_seq: int = 0
    capture_ms: int = 0

    @property
    def grounded(self) -> bool:
        """Carries a signal worth keeping in the session's history."""
        return bool(self.product_id or self.search_query or self.filters or self.listing_product_ids
                    or self.category or self.promotions or self.brands or self.colours)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Observation:
        known = {f.name for f in fields(cls)}
        obs = cls(**{k: v for k, v in data.items() if k in known})
        obs.filters = [c for c in obs.filters if chips.is_chip(c)]
        return obs

    @property
    def filter_labels(self) -> list[str]:
        """The chips as people read them ('Brand: Norda', 'Price: up to $90'): display only."""
        return [chips.label(c) for c in self.filters]


def normalise_sku(token: str, prefix: str = "P", digits: int = 5) -> str | None:
    """'PO1Z34' -> 'P01234': fix letter/digit confusions in the numeric part; None if it cannot be an id."""
    token = token.replace(" ", "")  # OCR sometimes splits the code; trailing words are cut off below
    if len(token) < len(prefix) + digits:
        return None
    head = token[: len(prefix)].upper().replace("0", "O").replace("8", "B").replace("5", "S")
    tail = token[len(prefix): len(prefix) + digits].translate(_DIGIT_FIX)
    if head != prefix or not tail.isdigit():
        return None
    return head + tail


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w ]+", " ", text.lower()).split())


class Grounder:
    """Catalog indexes built once; `observe` is then a few regexes and rapidfuzz calls per line.

    One Grounder serves every session: it remembers where the recommendation panel starts per session (their
    shops' layouts differ), and reads the shop's wording from its profile (INTERAREC_SHOP_PROFILE, else the
    default that reads both demo layouts).
    """

    def __init__(self, catalog: Catalog, panel_left: int | None = None, profile: ShopProfile | None = None,
                 panels: PanelGeometry | None = None):
        self.catalog = catalog
        self.panels = panels or PanelGeometry()  # session -> x where the panel starts; learned from its header
        if panel_left is not None:
            self.panels.set("", panel_left)
        self.profile = profile or load_profile()
        self.ids = [p.product_id for p in catalog.products]
        self.titles = [_norm(p.title) for p in catalog.products]
        self.by_norm_title = {t: i for i, t in enumerate(self.titles)}
        self.by_cents: dict[int, list[int]] = {}
        for i, p in enumerate(catalog.products):
            self.by_cents.setdefault(round(p.price * 100), []).append(i)
        prefix = re.match(r"[A-Za-z]*", self.ids[0]).group(0)
        self.id_prefix = prefix
        self.id_digits = len(self.ids[0]) - len(prefix)
        # the catalog's words, matched with OCR's tolerance (common/vocabulary.py: one matcher for every reader)
        self.brand_words = Vocabulary(catalog.brands, min_score=OCR_MIN_SCORE)
        self.colour_words = Vocabulary(catalog.colours, min_score=OCR_MIN_SCORE)
        self.categories = Vocabulary(catalog.categories, min_score=OCR_MIN_SCORE)
        self._multiword = [(re.compile(rf"\b{re.escape(v.lower())}\b"), v)
                           for v in (*catalog.brands, *catalog.colours) if " " in v]
        prof = self.profile
        self._panel_re = prof.regex("panel_cues")
        self._product_marks = prof.regexes("product_page_cues")
        self._list_price_re = prof.regex("list_price_cues")
        self._brand_res = prof.regexes("brand_cues")
        self._rating_res = prof.regexes("rating_cues")
        self._promo_re = prof.regex("promotion_cues") or _NEVER
        self._home_re = prof.regex("home_cues")
        self._compare_re = prof.regex("comparison_cues")
        self._results_res = prof.regexes("search_results_cues")
        self._reviews_re = prof.regex("review_cues") or _NEVER
        self._review_summary_re = prof.regex("review_summary_cues") or _NEVER
        self._label_re = prof.regex("label_cues") or _NEVER
        self._sku_res = prof.regexes("sku_cues")
        self._sku_label_re = prof.regex("sku_label_cues") or _NEVER
        self._filters = prof.filter_patterns()
        self._sorts = sorts.SortPatterns.build(prof)

    # -------------------------------------------------------------- lines

    @property
    def panel_left(self) -> int | None:
        """The panel's left edge in the default session (a caller reading one shop passes no session)."""
        return self.panels.get("")

    def split_panel(self, lines: Sequence[OcrLine], session: str | None = "") -> tuple[list[OcrLine], list[OcrLine]]:
        """(main content, recommendation panel). The panel is everything below and right of its header.

        The panel scrolls with the page, so its header can be off-screen while its items are not: the
        panel's left edge, once seen, is remembered for the session (each session's shop has its own
        layout) and used then. `session` None: a one-off image, nothing remembered or recalled.
        """
        header = next((ln for ln in lines if self._panel_re.search(ln.text) and ln.left > 200), None)
        if header is not None:
            left = header.left - 24
            if session is not None:
                self.panels.set(session, left)
            top = header.top - 4
        elif session is not None and (left := self.panels.get(session)) is not None:
            top = -1
        else:
            return list(lines), []
        main, panel = [], []
        for ln in lines:
            (panel if ln.left >= left and ln.top >= top else main).append(ln)
        return main, panel

    def match_title(self, text: str) -> tuple[int | None, float, float]:
        """(catalog index, score, margin over the runner-up) of the title best matching text."""
        q = _norm(text)
        if len(q) < 6:
            return None, 0.0, 0.0
        exact = self.by_norm_title.get(q)
        if exact is not None:
            return exact, 100.0, 100.0
        best = process.extract(q, self.titles, scorer=fuzz.ratio, limit=2, score_cutoff=70)
        if not best:
            return None, 0.0, 0.0
        second = best[1][1] if len(best) > 1 else 0.0
        return best[0][2], best[0][1], best[0][1] - second

    def _heading_candidates(self, main: list[OcrLine]) -> list[str]:
        """Lines that could be a product title, tallest first, plus pairs of wrapped lines (long titles wrap).

        Height orders but does not filter: tesseract's word boxes swallow table rules and descenders, so a
        bold table cell can measure taller than the real heading.
        """
        lines = [ln for ln in main if ln.conf >= MIN_LINE_CONF and len(ln.text) >= 6 and " " in ln.text.strip()
                 and not self._label_re.search(ln.text)]
        out = [ln.text for ln in sorted(lines, key=lambda ln: -ln.height)]
        for a, b in zip(lines, lines[1:], strict=False):
            if abs(a.left - b.left) <= 12 and 0 < b.top - a.top <= 2.2 * max(a.height, b.height):
                out.append(f"{a.text} {b.text}")
        return out

    def _big_headings(self, main: list[OcrLine], typical: float | None = None, ratio: float = HEADING_MIN_RATIO,
                      leading: bool = False, masthead: float | None = None) -> list[str]:
        """Heading-sized lines (clearly taller than the page's typical text) and their wrapped pairs: where a
        product page names its product. Card titles in a listing are body-sized, so they never qualify.
        `typical` is the median text height of the whole page when the caller read only part of it. `leading`:
        only lines no taller line of words sits above, below the masthead (where it ends, None: unknown)."""
        usable = [ln for ln in main if ln.conf >= MIN_LINE_CONF and len(ln.text) >= 6 and " " in ln.text.strip()]
        if not usable:
            return []
        if typical is None:
            typical = median_height(main)
        big = [ln for ln in usable if ln.height >= ratio * typical and not self._label_re.search(ln.text)]
        if leading:
            if masthead is None:
                masthead = text_bar_bottom(main, max((ln.top + ln.height for ln in main), default=0))
            words = [ln for ln in main if ln.conf >= MIN_LINE_CONF and not self._label_re.search(ln.text)
                     and below(ln, masthead) and re.search(r"[A-Za-z]{2}", prices.without(ln.text))]
            big = [a for a in big if not any(ln.height > a.height and ln.top + ln.height <= a.top for ln in words)]
        # a long title wraps, and its last line can be a lone model code ("T47"): any heading-sized line
        # right below a big one continues it. The pair comes right after its first line, not after every single
        # line: callers look at the first few, and on a page of small body text many lines count as big
        tails = [ln for ln in main if ln.conf >= MIN_LINE_CONF and ln.height >= ratio * typical
                 and not self._label_re.search(ln.text)]
        out = []
        for a in sorted(big, key=lambda ln: -ln.height):
            out.append(a.text)
            wrapped = [b for b in tails if abs(a.left - b.left) <= 12 and 0 < b.top - a.top <= 2.2 * max(a.height,
                                                                                                       b.height)]
            if wrapped:
                out.append(f"{a.text} {min(wrapped, key=lambda b: b.top).text}")
        return out

    def _lead_title_lines(self, main: list[OcrLine], typical: float, masthead: float | None) -> list[OcrLine]:
        """Lines that could be the page's title: lines of words (not one) at least as tall as the page's typical text
        that no line above them is taller than, top first (callers ask more height of some). A listing's card titles sit
        under a bigger heading (the category's name); a product page's title leads its page, though a row of variant
        chips or a section heading further down may be set bigger. Not candidates, nor taller lines above: a label or
        price, a line without a word once its amounts are taken out ("4.9 ★★★★★ (12)", "83,00 €"), and the masthead (the
        shop's name is often set bigger than a product title): where the reader saw it end (masthead.py), else the top
        row of the lines read when it is a bar."""
        if masthead is None:
            masthead = text_bar_bottom(main, max((ln.top + ln.height for ln in main), default=0))
        usable = sorted((ln for ln in main if ln.conf >= MIN_LINE_CONF and not self._label_re.search(ln.text)
                         and below(ln, masthead) and re.search(r"[A-Za-z]{2}", prices.without(ln.text))),
                        key=lambda ln: ln.top)
        out, tallest_above = [], 0.0
        for ln in usable:
            text = ln.text.strip()
            if ln.height >= tallest_above and len(text) >= 6 and " " in text and ln.height >= typical:
                out.append(ln)
            tallest_above = max(tallest_above, ln.height)
        return out

    # -------------------------------------------------------------- observe

    def observe(self, lines: Sequence[OcrLine], *, page_url: str = "", frame_seq: int = 0,
                capture_ms: int = 0, picture_colour: str | None = None,
                body_text_px: float | None = None, masthead_px: float | None = None,
                session: str | None = "") -> Observation:
        """Ground one screenshot's OCR lines. A caller that read only some regions (reader.py) passes the
        product picture's colour read from its pixels, the page's median text height and where the masthead
        ends (seen from the pixels); `session` keys what is remembered of the page's layout (the tenant/session
        key; None for a one-off image, which neither learns nor uses another image's layout)."""
        main, panel = self.split_panel(lines, session)
        obs = Observation(page_url=page_url, frame_seq=frame_seq, capture_ms=capture_ms)
        obs.recommended_product_ids = self._titles_in(panel)
        texts = [ln.text for ln in main]

        sku_token, sku_label = None, False
        for text in texts:
            sku = next((m for sku_re in self._sku_res if (m := sku_re.search(text))), None)
            if sku is not None or self._sku_label_re.search(text):
                sku_label = True  # only product pages print a SKU, even when its code is unreadable
                if sku is not None:
                    sku_token = obs.sku_text = sku.group(1).strip()
                break

        labelled_colours: list[str] = []
        labelled_brands: list[str] = []  # from the profile's brand cues ("Visit the X store", "Brand: X")
        for text in texts:
            if m := _BREADCRUMB_RE.match(text):
                for crumb in re.split(r"\s*[/>»›|]+\s*", m.group(1)):
                    crumb = crumb.strip().lower()
                    if found := self.categories(crumb):
                        obs.category = found
                        break
            if m := next((m for results_re in self._results_res if (m := results_re.search(text))), None):
                obs.search_query = m.group(1).strip(" \"'“”‘’") or None
            for rating_re in self._rating_res:
                if m := rating_re.search(text):
                    obs.rating_read = float(m.group(1).replace(",", "."))
                    if m.lastindex and m.lastindex >= 2 and m.group(2):
                        obs.rating_count = int(m.group(2).replace(",", ""))
                    break
            promo = self._promo_re.search(text)
            if promo:
                obs.promotions.append(text.strip())
                for pid in self._titles_mentioned(text):
                    if pid not in obs.promoted_product_ids:
                        obs.promoted_product_ids.append(pid)
            list_cues = list(self._list_price_re.finditer(text)) if self._list_price_re else []
            if list_cues and (amounts := list(prices.find(text))):
                # "$89.00 List: $119.99", "Regular price $119.00 Sale price $99.00": the amount right after a
                # list-price cue is struck through; the others are paid, even on a line saying "Sale"
                struck = {_struck(text, cue.end(), amounts) for cue in list_cues}
                for a in amounts:
                    (obs.list_prices if a in struck else obs.prices).append(a[2])
            elif not promo and not self._filters.price_label.search(text):
                # a promotion's amounts ("over $50") are not product prices, nor are a price filter's bounds
                obs.prices.extend(prices.values(text))
            if self._reviews_re.search(text) and not self._review_summary_re.search(text):
                obs.reviews_visible = True
            for brand_re in self._brand_res:
                if (m := brand_re.search(text)) and m.lastindex:
                    raw = m.group(1).strip().lower()
                    if b := self.brand_words(raw):
                        labelled_brands.append(b)
                        if b not in obs.brands:
                            obs.brands.append(b)
            if fm := self._filters.term.match(text.strip()):
                if (self._filters.field(fm.group(1)) == "colour"
                        and (c := self._ground_filter(fm.group(1), fm.group(2)))):
                    labelled_colours.append(c["value"])
            self._mentions(text, obs)

        headings = self._heading_candidates(main)
        big = self._big_headings(main, body_text_px)
        typical = body_text_px if body_text_px is not None else (median_height(main) or 0.0)
        leads = self._lead_title_lines(main, typical, masthead_px)
        lead_lines = [ln.text.strip() for ln in leads]
        # a title leading the page is set above the body text, though by less than a heading need be
        lead_titles = [ln.text.strip() for ln in leads if ln.height >= TITLE_MIN_RATIO * typical]
        # Only product pages print a SKU; when it is unreadable or the shop prints none, the profile's
        # product-page marks ("Add to cart", "Visit the X store", "Brand:" labels) stand in for it: two
        # of them, or one beside a heading-sized catalog title.
        marks = sum(any(mark.search(t) for t in texts) for mark in self._product_marks)
        titled = False
        # Catalog titles in the main content: a SKU label or two product-page marks make it a product page anyway.
        in_view: list[str] = []
        if not sku_label and marks < 2:
            # a promotion naming a product is not a listing of it
            in_view = self._titles_in([ln for ln in main if not self._promo_re.search(ln.text)])
        # Several catalog titles in view are a grid of cards, even scrolled past its heading and search box (the
        # first row's titles then lead the page): a title leading the page names its product only when alone.
        lead_may_name = not obs.search_query and len(in_view) < 2
        if marks == 1:
            titled = any(self.match_title(h)[1] >= TITLE_PRICED_MIN_SCORE for h in big[:6])
            if not titled and lead_may_name:
                # a title set barely above the body text: a line leading the page, a catalog title with its price
                titled = self._confirmed_title(lead_titles, TITLE_PRICED_MIN_SCORE, obs)
                # ... or a title leading the page no taller than its body lines (a bold title without descenders
                # measures 21 px against 19 px lines with them), nearly letter for letter, with its price read
                titled = titled or self._confirmed_title(lead_lines, TITLE_ONLY_MIN_SCORE, obs)
                if not titled and labelled_brands:
                    # ... or, its price out of sight (under a cookie banner), a catalog title nearly letter for letter
                    # leading the page whose brand a label names ("by X", "Brand: X"). Its box may be no taller than
                    # body lines: a bold title without descenders measures 22 px against 20 px lines with them
                    titled = self._confirmed_title(lead_lines, TITLE_ONLY_MIN_SCORE, brands=labelled_brands)
        elif marks == 0 and lead_may_name:
            # a shop whose wording we do not know (or whose button is cut off): a heading that is a catalog
            # title nearly letter for letter, with that product's price on the page, is its product page
            # (heading-sized, or the line leading the page below the masthead: a theme may set its title barely
            # above the body text; a listing's card titles sit under a bigger heading, so they never lead).
            # Never a search page nor a grid of cards: their titles can be set heading-sized over small body
            # text, each with its price beside it
            # A heading-sized title under a taller heading (a listing's "Watches" over its one card in sight, whose
            # price is read once the budget reaches it) is a card's, not the page's: only leading ones count here
            big_leads = self._big_headings(main, body_text_px, leading=True, masthead=masthead_px)[:6]
            titled = self._confirmed_title([*big_leads, *lead_titles], TITLE_ONLY_MIN_SCORE, obs)
        product_page = sku_label or marks >= 2 or titled
        if product_page:
            obs.picture_colour = picture_colour if picture_colour in self.catalog.colours else None
            self._ground_product(obs, sku_token, headings, self._big_headings(main, body_text_px, TITLE_MIN_RATIO),
                                 labelled_brands, lead_lines)
            if obs.product_id is None and obs.heading is None:
                self._ground_untitled(obs)
            obs.kind = "product"
            # Text on a product page names other colours too (swatches, descriptions): keep what is labelled
            # as the product's colour and what its picture shows.
            obs.colours = list(dict.fromkeys(([obs.picture_colour] if obs.picture_colour else []) + labelled_colours))
        else:
            for text in texts:
                for chunk in self._filters.keys.split(text):  # "Brand: Norda | Colour: Navy" -> one per key
                    if fm := self._filters.term.match(chunk):
                        value = self._ground_filter(fm.group(1), fm.group(2))
                        if value and value not in obs.filters:
                            obs.filters.append(value)
            for text in texts:
                if m := self._price_chip(self._filters.price_range, text):
                    obs.filters.append(chips.price(_num(m.group(1)), _num(m.group(2))))
                elif m := self._price_chip(self._filters.price_open, text):
                    bound = _num(m.group(2))
                    from_ = self._filters.price_from.match(m.group(1))
                    obs.filters.append(chips.price(low=bound) if from_ else chips.price(high=bound))
            obs.sort_order = sorts.chosen_order(main, self._sorts)
            obs.listing_product_ids = in_view
            compare_page = self._compare_re and any(self._compare_re.search(t) for t in texts)
            if compare_page and len(obs.listing_product_ids) >= 2:
                obs.compared_product_ids = list(obs.listing_product_ids)
            if obs.search_query:
                obs.kind = "search"
            elif obs.category or obs.filters:
                obs.kind = "listing"
            elif (self._home_re and any(self._home_re.search(t) for t in texts)) \
                    or (page_url and urlsplit(page_url).path in ("", "/")):
                obs.kind = "home"
            elif obs.listing_product_ids:
                obs.kind = "listing"
        obs.prices = sorted(set(obs.prices))
        obs.list_prices = sorted(set(obs.list_prices) - set(obs.prices))
        return obs

    def _confirmed_title(self, texts: Sequence[str], min_score: float, obs: Observation | None = None,
                         brands: Sequence[str] = ()) -> bool:
        """Whether one of `texts` is a catalog title (at least `min_score`) whose product's price is on the page
        (`obs`'s prices) or whose brand a brand label names (`brands`)."""
        return any((m := self.match_title(t))[0] is not None and m[1] >= min_score
                   and ((obs is not None and self._price_on_page(m[0], obs))
                        or self.catalog.products[m[0]].brand in brands) for t in texts)

    def _price_on_page(self, idx: int, obs: Observation) -> bool:
        price = self.catalog.products[idx].price
        return any(abs(price - p) < 0.006 for p in obs.prices)

    def _ground_product(self, obs: Observation, sku_token: str | None, headings: list[str],
                        big: list[str] | None = None, labelled_brands: Sequence[str] = (),
                        leads: Sequence[str] = ()) -> None:
        title_idx, title_score, title_margin = None, 0.0, 0.0
        for text in headings:
            idx, score, margin = self.match_title(text)
            if idx is not None and score > title_score:
                title_idx, title_score, title_margin = idx, score, margin
                obs.heading = text  # the big line that reads as a title (the tallest may be the shop's logo)
        clear_title = (title_idx is not None and title_score >= TITLE_ONLY_MIN_SCORE
                       and title_margin >= TITLE_ONLY_MIN_MARGIN)
        sku = None
        if sku_token:
            raw = sku_token.split()[0].upper()
            # as printed if it is an id (any id scheme), else with OCR confusions in the digits undone
            sku = raw if raw in self.catalog.index else normalise_sku(sku_token, self.id_prefix, self.id_digits)
        sku_idx = self.catalog.index.get(sku) if sku else None
        if sku_idx is not None:
            sku_title = self.titles[sku_idx]
            sku_score = max((fuzz.ratio(_norm(h), sku_title) for h in headings), default=0.0)
            if clear_title and title_idx != sku_idx and title_score > sku_score:
                # A misread digit can land on another real id: a clear heading for a product whose id is one
                # character from the read wins; any other disagreement grounds nothing rather than guess.
                if _one_off(self.ids[title_idx], sku):
                    obs.product_id, obs.product_confidence = self.ids[title_idx], 0.8
                return
            if sku_score >= TITLE_AGREE_MIN_SCORE:
                obs.product_id, obs.product_confidence = self.ids[sku_idx], round(0.9 + sku_score / 1000, 3)
            elif title_score < TITLE_AGREE_MIN_SCORE:  # heading off-screen or garbled: the SKU alone
                obs.product_id, obs.product_confidence = self.ids[sku_idx], 0.7
            return
        if (sku and title_idx is not None and _one_off(self.ids[title_idx], sku)
                and title_score >= TITLE_AGREE_MIN_SCORE):
            obs.product_id, obs.product_confidence = self.ids[title_idx], 0.85
            return
        self._ground_by_title(obs, big if big is not None else headings, labelled_brands)
        if obs.product_id is None and big is not None and headings:
            # a theme may set its title barely larger than its body text: its tallest lines still name
            # the product if it is a catalog title letter for letter with that price on the page, or its brand
            # labelled (tallest three: the wordmark may be taller), as do the lines leading the page below the
            # masthead (`leads`), which made it a product page: taller lines than the title (a select box with its
            # label, measured by its frame; the shop's name; a breadcrumb as tall, above it) fill the three
            self._ground_by_title(obs, [*headings[:3], *leads], labelled_brands, strict=True)

    def _ground_by_title(self, obs: Observation, headings: list[str], labelled_brands: Sequence[str] = (),
                         strict: bool = False) -> None:
        """No usable SKU: the heading matched fuzzily against catalog titles, confirmed by the product's price
        on the page (titles of one model line differ by a short code that OCR may garble; prices rarely
        coincide) and its brand (a "Visit the X store" link, a "Brand:" label or the title's own words)."""
        scores: dict[int, tuple[float, str]] = {}
        for text in headings[:8]:
            q = _norm(text)
            if len(q) < 6:
                continue
            for _, score, idx in process.extract(q, self.titles, scorer=fuzz.ratio, limit=5,
                                                 score_cutoff=TITLE_CANDIDATE_MIN_SCORE):
                if score > scores.get(idx, (0.0, ""))[0]:
                    scores[idx] = (score, text)
        if labelled_brands:  # the page says whose product it is: other brands' titles are misreads
            scores = {i: v for i, v in scores.items() if self.catalog.products[i].brand in labelled_brands}
        if not scores:
            return
        ranked = sorted(scores.items(), key=lambda kv: -kv[1][0])
        best, (score, text) = ranked[0]
        margin = score - (ranked[1][1][0] if len(ranked) > 1 else 0.0)
        priced = self._price_on_page(best, obs)
        branded = self.catalog.products[best].brand in obs.brands
        chosen = None
        if strict:
            # confirmed by its price, or by a brand label naming its brand (scores hold only that brand's titles then)
            confirmed = priced or bool(labelled_brands)
            chosen = best if score >= TITLE_ONLY_MIN_SCORE and margin >= TITLE_ONLY_MIN_MARGIN and confirmed else None
        elif score >= TITLE_ONLY_MIN_SCORE and margin >= TITLE_ONLY_MIN_MARGIN:
            chosen = best
        elif score >= TITLE_PRICED_MIN_SCORE and priced:
            chosen = best
        else:
            # the one close title whose price is on the page, confirmed by its brand named on the page or, for
            # a shop that shows its brand only as a logo, by its colour in the product picture
            with_price = [idx for idx, _ in ranked if self._price_on_page(idx, obs)]
            only = self.catalog.products[with_price[0]] if len(with_price) == 1 else None
            if only is not None and (only.brand in obs.brands or only.colour == obs.picture_colour):
                chosen = with_price[0]
                score, text = scores[chosen]
                priced, branded = True, only.brand in obs.brands
        if chosen is None:
            return
        obs.heading = text
        obs.product_id = self.ids[chosen]
        # a near-exact heading alone scores 0.6 as before; price and brand raise it, never to a read SKU's 0.9+
        obs.product_confidence = round(0.5 * score / 100 + 0.1 + 0.2 * priced + 0.09 * branded, 3)

    def _ground_untitled(self, obs: Observation) -> None:
        """A product page whose title is out of sight (scrolled under a sticky header): the one catalog product
        whose price is paid on the page, whose brand the page names and whose colour its picture shows. Any
        second such product (a cross-sell card's price, another brand named) and nothing is grounded. A page
        that names no brand in what was read (the brand under the header with the title, or only in a
        description left unread) is grounded by price and colour alone, when exactly one product fits (the
        same 0.5: counted as viewed, never as sure as a read title or SKU)."""
        if not obs.picture_colour:
            return
        fits = {i for price in set(obs.prices) for i in self.by_cents.get(round(price * 100), ())
                if (not obs.brands or self.catalog.products[i].brand in obs.brands)
                and self.catalog.products[i].colour == obs.picture_colour}
        if len(fits) == 1:
            obs.product_id, obs.product_confidence = self.ids[fits.pop()], 0.5

    def _titles_mentioned(self, text: str) -> list[str]:
        """Catalog products whose whole title appears inside a longer line (a promotion naming a product)."""
        q = _norm(text)
        if len(q) < 10:
            return []
        hits = process.extract(q, self.titles, scorer=fuzz.partial_ratio, limit=1, score_cutoff=92)
        return [self.ids[idx] for _, _, idx in hits]

    def _titles_in(self, lines: list[OcrLine]) -> list[str]:
        """Catalog products whose title is a line, or a line and the one wrapped below it (card titles wrap)."""
        found: list[str] = []
        usable = [ln for ln in lines if ln.conf >= MIN_LINE_CONF and len(ln.text) >= 3]
        for ln in usable:
            text = prices.without(ln.text).strip()
            below = [b for b in usable if abs(b.left - ln.left) <= 12 and 0 < b.top - ln.top <= 2.2 * max(ln.height, 8)]
            candidates = [text]
            if below:
                nxt = min(below, key=lambda b: b.top)
                candidates.insert(0, f"{text} {prices.without(nxt.text).strip()}")
            for cand in candidates:
                idx, score, margin = self.match_title(cand)
                if idx is not None and score >= LISTING_MIN_SCORE and margin > 0:
                    if self.ids[idx] not in found:
                        found.append(self.ids[idx])
                    break
        return found

    def _mentions(self, text: str, obs: Observation) -> None:
        for word in _WORD_RE.findall(text):
            low = word.lower()
            if (b := self.brand_words.exact(low)) and b not in obs.brands:
                obs.brands.append(b)
            if (c := self.colour_words.exact(low)) and c not in obs.colours:
                obs.colours.append(c)
        if self._multiword:
            low = text.lower()
            for pattern, value in self._multiword:
                if pattern.search(low):
                    target = obs.brands if value in self.catalog.brands else obs.colours
                    if value not in target:
                        target.append(value)

    def _price_chip(self, pattern: re.Pattern, text: str) -> re.Match | None:
        """The first price-filter chip `pattern` finds on the line whose label is no list-price cue's word: in
        "Regular price 249-99" the price is a card's struck-through one, its decimal comma or the strike read as a
        dash, not a filter from 99 to 249 (a theme's sale cards made such filters on listings no filter was set on)."""
        cues = [c.span() for c in self._list_price_re.finditer(text)] if self._list_price_re else []
        return next((m for m in pattern.finditer(text) if not any(a <= m.start() < b for a, b in cues)), None)

    def _ground_filter(self, key: str, raw: str) -> dict | None:
        """A brand/colour/category chip (its label worded as the shop's profile says) as a structured chip."""
        raw = raw.strip().lower()
        field = self._filters.field(key)
        field = field if field in ("brand", "colour") else "category"
        table = {"brand": self.brand_words, "colour": self.colour_words, "category": self.categories}[field]
        value = table.exact(raw) or table.exact(raw.split(" ")[0]) or table(raw)
        return chips.term(field, value) if value else None


def _struck(text: str, cue_end: int, amounts: list[tuple[int, int, float]]) -> tuple[int, int, float] | None:
    """The amount a list-price cue ending at `cue_end` strikes through: the one right after it, nothing but
    spaces and a colon or dash between. A struck-through price is what OCR garbles most ("USD 559.99" read as
    "¥SB-559-99"): the next amount that does read is then the paid one, further on, past the garble."""
    after = next((a for a in amounts if a[0] >= cue_end), None)
    if after is None or _STRUCK_GAP.fullmatch(text[cue_end:after[0]]) is None:
        return None
    return after


def _num(raw: str) -> float:
    return float(raw.replace(",", ""))


def _one_off(a: str, b: str | None) -> bool:
    return b is not None and len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1
