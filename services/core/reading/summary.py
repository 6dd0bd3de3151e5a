"""Behaviour summaries: a `Summarizer` backend supplies grounded claims about a window, one builder makes
the BehaviourSummary.

Backends (the embedded reader here, the vllm model in vllm_backend.py) differ only in how they read the
frames: each returns `Claims` -- product views grounded in the catalog, terms it named, price and ratings it
saw, comparisons, promotions, searches, notes on what it dropped. `build_summary` alone turns claims into a
summary: recency-weighted shares of the views, specifications of the viewed products, the browse-only
fallback (no product opened), the session's UI filters and seen products, and the narrative, so the
backends cannot drift apart in any of them. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from interarec.v1 import summaries_pb2
from services.common.catalog import CURRENCY, Catalog, Product
from services.core.recency import RECENCY_DECAY, recency_weights  # noqa: F401 -- RECENCY_DECAY re-exported

from . import filters as chips
from .grounding import Observation
from .profile import SORT_ORDERS
from .window import SEEN_MIN_CONFIDENCE, ClosedWindow

MIN_VIEW_CONFIDENCE = SEEN_MIN_CONFIDENCE
MAX_SPECS = 6
MAX_COMPARISONS = 5
MAX_PROMOTIONS = 5
MAX_QUERIES = 5


def _weighted(values: Sequence[str], total: float, weights: Sequence[float] | None = None
              ) -> list[summaries_pb2.WeightedTerm]:
    """Share of each value; with `weights`, each occurrence counts its weight (total = their sum)."""
    counts: Counter[str] = Counter()
    for i, v in enumerate(values):
        counts[v] += 1.0 if weights is None else weights[i]
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [summaries_pb2.WeightedTerm(value=v, weight=round(n / total, 4)) for v, n in ordered]


def _unique(items) -> list:
    return list(dict.fromkeys(items))


def _money(x: float) -> str:
    return f"${x:,.0f}" if x == int(x) else f"${x:,.2f}"


def _pct(w: float) -> str:
    return f"{round(w * 100)}%"


def _join(words: list[str]) -> str:
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _views(observations: Sequence[Observation], catalog: Catalog) -> list[tuple[Product, int, float]]:
    """(product, frames, best confidence) for each product page grounded with enough confidence, ordered by
    each product's last view (oldest first): going back to a product makes it recent again."""
    frames: dict[str, int] = {}
    conf: dict[str, float] = {}
    last: dict[str, int] = {}
    for i, o in enumerate(observations):
        if o.kind == "product" and o.product_id in catalog.by_id and o.product_confidence >= MIN_VIEW_CONFIDENCE:
            frames[o.product_id] = frames.get(o.product_id, 0) + 1
            conf[o.product_id] = max(conf.get(o.product_id, 0.0), o.product_confidence)
            last[o.product_id] = i
    return [(catalog.by_id[pid], frames[pid], conf[pid]) for pid in sorted(last, key=last.__getitem__)]


def _ui_filters(observations: Sequence[Observation]) -> tuple[list[dict], str]:
    """The filter chips on the newest listing that showed any, and that listing's category ('' if unread)."""
    for o in reversed(observations):
        if o.kind in ("listing", "search") and o.filters:
            return [c for i, c in enumerate(o.filters) if c not in o.filters[:i]], o.category or ""
    return [], ""


# the profile's order names to the summary's enum (rating_desc -> SORT_ORDER_RATING_DESC): a name without its enum
# value fails at import, so the two lists cannot drift apart
_SORT_ENUM = {o: summaries_pb2.SortOrder.Value(f"SORT_ORDER_{o.upper()}") for o in SORT_ORDERS}


def _listing_sort(observations: Sequence[Observation]) -> int:
    """The order chosen on the newest listing whose sort control was read (a scrolled frame that no longer shows the
    control says nothing of it); SORT_ORDER_UNSPECIFIED when none was."""
    for o in reversed(observations):
        if o.kind in ("listing", "search") and o.sort_order in _SORT_ENUM:
            return _SORT_ENUM[o.sort_order]
    return summaries_pb2.SORT_ORDER_UNSPECIFIED


def _comparisons(observations: Sequence[Observation], catalog: Catalog) -> list[tuple[Product, Product]]:
    """Consecutive views of two different products of the same category: the shopper weighing them up."""
    seq = [o.product_id for o in observations
           if o.kind == "product" and o.product_id in catalog.by_id and o.product_confidence >= MIN_VIEW_CONFIDENCE]
    pairs: list[tuple[Product, Product]] = []
    prev = None
    for pid in seq:
        if prev is not None and pid != prev:
            a, b = catalog.by_id[prev], catalog.by_id[pid]
            if a.category == b.category:
                pairs.append((a, b))
        prev = pid
    return pairs


def _browse_terms(observations: Sequence[Observation]) -> tuple[list[str], list[str], list[str]]:
    """Categories, brands and colours the shopper filtered or browsed to, for a session with no product views."""
    cats, brands, colours = [], [], []
    by_field = {"category": cats, "brand": brands, "colour": colours}
    for o in observations:
        if o.kind in ("listing", "search") and o.category:
            cats.append(o.category)
        for c in o.filters:
            by_field.get(c["field"], []).append(c["value"])
    return cats, brands, colours


def _price_filter(observations: Sequence[Observation], catalog: Catalog) -> tuple[float, float] | None:
    """The newest price filter as (low, high); an open end is the catalog's own bound."""
    for o in reversed(observations):
        for c in o.filters:
            if c["field"] == "price":
                return (c["low"] if c["low"] is not None else 0.0,
                        c["high"] if c["high"] is not None else float(catalog.price.max()))
    return None


View = tuple[Product, int, float]  # a grounded product view: (product, frames, best confidence)


@dataclass
class Claims:
    """What a backend read from a window (and the session's history), already grounded in the catalog."""

    backend: str
    views: list[View] = field(default_factory=list)  # ordered by each product's last view, oldest first
    # Named terms (repeats count): the summary's terms only when no product was opened.
    product_types: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    price_range: tuple[float, float] | None = None  # seen or filtered, when no product was opened
    ratings_seen: list[float] = field(default_factory=list)  # 0..5, when no product was opened
    specifications: list[str] = field(default_factory=list)  # catalog `key: value` pairs, when none opened
    comparisons: list[tuple[Product, Product]] = field(default_factory=list)  # oldest first
    promotions: list[str] = field(default_factory=list)  # oldest first, cleaned
    search_queries: list[str] = field(default_factory=list)  # oldest first, cleaned
    read_reviews: bool = False
    notes: list[str] = field(default_factory=list)  # what was dropped on the way, and why
    prompt_version: str = ""
    model: str = ""


class Summarizer(Protocol):
    """A summarizer backend: a closed window (its frames as image URLs, for a backend that looks at pixels)
    -> grounded claims. A model backend raises LlmError when it has nothing usable; `summarize_window`
    (vllm_backend.py) then asks the embedded backend."""

    backend: str

    async def claims(self, window: ClosedWindow, image_urls: list[str]) -> Claims: ...


def add_views(s: summaries_pb2.BehaviourSummary, views: Sequence[View]) -> list[Product]:
    """The fields derived from grounded product views, ordered by last view (oldest first):
    recency-weighted shares of type, brand and colour, price range, ratings and the viewed products.
    Returns the products (empty: nothing set)."""
    products = [p for p, _, _ in views]
    n = len(products)
    if not n:
        return products
    w = recency_weights(n)
    total = sum(w)
    s.product_types.extend(_weighted([p.category for p in products], total, w))
    s.brands.extend(_weighted([p.brand for p in products], total, w))
    s.colours.extend(_weighted([p.colour for p in products], total, w))
    s.price_range.low = min(p.price for p in products)
    s.price_range.high = max(p.price for p in products)
    s.price_range.currency = CURRENCY
    s.reviews.min_rating_viewed = min(p.rating for p in products)
    s.reviews.mean_rating_viewed = round(sum(p.rating for p in products) / n, 2)
    for p, frames, conf in views:
        s.viewed_products.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                              colour=p.colour, price=p.price, frames=frames, confidence=round(conf, 3))
    return products


def _add_session_context(s: summaries_pb2.BehaviourSummary, window: ClosedWindow,
                         observations: Sequence[Observation], products: Sequence[Product]) -> None:
    """What the session itself knows, whichever backend read the frames: the UI filters on the newest
    listing (the decomposer's hard constraints) and every product seen so far (its whole-session exclusion)."""
    filters, filters_category = _ui_filters(observations)
    s.ui_filters.extend(chips.label(c) for c in filters)  # display only
    s.ui_filter_fields.extend(chips.to_ui_filter(c) for c in filters)
    s.ui_filters_category = filters_category
    s.listing_sort_order = _listing_sort(observations)
    s.seen_product_ids.extend(_unique([*window.seen_product_ids, *(p.product_id for p in products)]))


def build_summary(session_id: str, tenant: str, window: ClosedWindow, history: Sequence[Observation],
                  claims: Claims) -> summaries_pb2.BehaviourSummary:
    """The one place a BehaviourSummary is made, from any backend's claims about the window."""
    s = summaries_pb2.BehaviourSummary(
        session_id=session_id, tenant=tenant, window_seq=window.window_seq, backend=claims.backend,
        frames_in_window=window.frames, frames_dropped_duplicate=window.dropped_duplicates,
        window_close_reason=window.reason, prompt_version=claims.prompt_version, model=claims.model)
    s.trace.capture_unix_ms = window.last_capture_ms

    products = add_views(s, claims.views)
    if products:
        # the viewed products' own specifications: the catalog beats whatever was read off the screen
        specs = [f"{k}: {v}" for p in products for k, v in p.spec_pairs]
        s.specifications.extend(_weighted(specs, len(products))[:MAX_SPECS])
    else:
        # Nothing opened yet: what the shopper browsed to, filtered by and saw listed is the only signal.
        for target, values in ((s.product_types, claims.product_types), (s.brands, claims.brands),
                               (s.colours, claims.colours)):
            if values:
                target.extend(_weighted(values, len(values)))
        if claims.price_range is not None:
            s.price_range.low, s.price_range.high = claims.price_range
            s.price_range.currency = CURRENCY
        if claims.ratings_seen:
            s.reviews.min_rating_viewed = min(claims.ratings_seen)
            s.reviews.mean_rating_viewed = round(sum(claims.ratings_seen) / len(claims.ratings_seen), 2)
        if claims.specifications:
            s.specifications.extend(_weighted(claims.specifications, len(claims.specifications))[:MAX_SPECS])
    _add_session_context(s, window, [*history, *window.observations], products)
    s.reviews.read_reviews = claims.read_reviews
    pairs: dict[frozenset[str], str] = {}  # a pair weighed up twice (either way round) counts once
    for a, b in claims.comparisons:
        if a.product_id != b.product_id:
            pairs.setdefault(frozenset((a.product_id, b.product_id)), f"{a.title} vs {b.title}")
    s.comparisons.extend(list(pairs.values())[-MAX_COMPARISONS:])
    s.promotions.extend(_unique(p for p in claims.promotions if p)[-MAX_PROMOTIONS:])
    s.search_queries.extend(_unique(q for q in claims.search_queries if q)[-MAX_QUERIES:])
    s.narrative = narrative(s)
    s.grounding_notes.extend(claims.notes)
    return s


# --- the embedded backend: the reader's grounded observations -> claims -------------------------------

def read_claims(observations: Sequence[Observation], catalog: Catalog) -> Claims:
    """The embedded backend's claims: what the on-CPU reader grounded, frame by frame."""
    cats, brands, colours = _browse_terms(observations)
    return Claims(
        backend="embedded", views=_views(observations, catalog), product_types=cats, brands=brands,
        colours=colours, price_range=_price_filter(observations, catalog),
        comparisons=_comparisons(observations, catalog),
        promotions=[p for o in observations for p in o.promotions],
        search_queries=[o.search_query for o in observations if o.search_query],
        read_reviews=any(o.reviews_visible for o in observations))


class EmbeddedSummarizer:
    """The embedded backend behind the Summarizer protocol: the window's observations were read on this
    CPU as the frames arrived (reader.py), so the image URLs are not needed."""

    backend = "embedded"

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    async def claims(self, window: ClosedWindow, image_urls: list[str]) -> Claims:
        return read_claims([*window.history, *window.observations], self.catalog)


def summarize(session_id: str, tenant: str, window: ClosedWindow, history: Sequence[Observation],
              catalog: Catalog) -> summaries_pb2.BehaviourSummary:
    """The embedded summary over the session's recent observations (history, then this window)."""
    return build_summary(session_id, tenant, window, history,
                         read_claims([*history, *window.observations], catalog))


def _share_phrase(brand: summaries_pb2.WeightedTerm, types: Sequence[summaries_pb2.WeightedTerm]) -> str:
    """'mostly Norda (75%) Footwear', 'all Norda Footwear (50%) and Outerwear', '3 brands across 2 categories'."""
    cat = types[0]
    if brand.weight == 1:
        who = f"all {brand.value}"
    elif brand.weight >= 0.5:
        who = f"mostly {brand.value} ({_pct(brand.weight)})"
    else:
        who = f"top brand {brand.value} ({_pct(brand.weight)})"
    if cat.weight == 1:
        return f"{who} {cat.value}"
    if cat.weight >= 0.5:
        return f"{who}, mostly {cat.value} ({_pct(cat.weight)})"
    return f"{who}, across {len(types)} categories"


_SORT_WORDS = {summaries_pb2.SORT_ORDER_RATING_DESC: "sorted a listing by rating",
               summaries_pb2.SORT_ORDER_PRICE_ASC: "sorted a listing by price, lowest first",
               summaries_pb2.SORT_ORDER_PRICE_DESC: "sorted a listing by price, highest first",
               summaries_pb2.SORT_ORDER_NEWEST: "sorted a listing by newest"}


def narrative(s: summaries_pb2.BehaviourSummary) -> str:
    """One plain-English paragraph that explains the summary's fields."""
    parts: list[str] = []
    n = len(s.viewed_products)
    if n:
        price = (_money(s.price_range.low) if s.price_range.low == s.price_range.high
                 else f"{_money(s.price_range.low)}–{_money(s.price_range.high)}")
        if n == 1:
            v = s.viewed_products[0]
            parts.append(f"Viewed 1 product, {v.title} ({v.brand} {v.category}, {price}, {v.colour})")
            parts.append(f"rated {s.reviews.mean_rating_viewed:.1f} stars")
        else:
            what = _share_phrase(s.brands[0], s.product_types)
            colours = _join([c.value for c in s.colours[:3]])
            parts.append(f"Viewed {n} products, {what}, priced {price}, in {colours}")
            parts.append(f"ratings {s.reviews.min_rating_viewed:.1f} lowest, {s.reviews.mean_rating_viewed:.1f} mean")
    else:
        browse = []
        if s.product_types:
            browse.append(_join([t.value for t in s.product_types[:2]]))
        if s.brands:
            browse.append("filtered to " + _join([b.value for b in s.brands[:2]]))
        if s.colours:
            browse.append("in " + _join([c.value for c in s.colours[:2]]))
        if s.price_range.high:
            browse.append(f"priced {_money(s.price_range.low)}–{_money(s.price_range.high)}")
        parts.append("No product pages viewed yet" + (f"; browsing {' '.join(browse)}" if browse else ""))
    if s.listing_sort_order in _SORT_WORDS:
        parts.append(_SORT_WORDS[s.listing_sort_order])
    if s.search_queries:
        parts.append("searched for " + _join([f'"{q}"' for q in s.search_queries]))
    if s.comparisons:
        parts.append(f"compared {s.comparisons[-1]}")
    if s.reviews.read_reviews:
        parts.append("read reviews")
    if s.promotions:
        parts.append(f"saw promotions ({s.promotions[-1]})")
    return "; ".join(parts) + "."
