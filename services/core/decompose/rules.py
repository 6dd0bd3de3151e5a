"""The "rules" decomposer backend: BehaviourSummary -> validated OptimizationRequest, no LLM.

Summary weights are shares of grounded product views (0..1). Strong, repeated (or so far unanimous)
signals become hard constraints; everything else becomes soft MNL preferences, which only re-weight
candidates. The rules are deliberately conservative: a wrong hard constraint hides what the shopper wants,
a missing one only makes the ranking a little less sharp.

`repair_request` is the backend-independent half (grounding, bounds, contradiction relaxation) and is
also meant for the vllm backend; `validate_request` lists what is still wrong with a request.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.common.vocabulary import Vocabulary, norm
from services.core.assortment.attraction import category_quantiles
from services.core.assortment.candidates import candidate_rows
from services.core.decompose.evidence import (
    COMPANION_TERM_WEIGHT,
    FIELDS,
    FILTER_EVIDENCE,
    HARD_TERM_MIN_VIEWS,
    HARD_TERM_WEIGHT,
    SEARCH_EVIDENCE,
    SEARCH_TERM_WEIGHT,
    STALE_SHARE,
    Field,
    View,
    explicit_of,
    field_vocabulary,
    hard_terms,
    share,
    term_change,
    term_weights,
    views_of,
)
from services.core.decompose.hedges import (
    hedge_price,
    hedge_starved_budget,
    hedged_rating,
    sorted_rating,
    yield_to_the_sorted_rating,
)
from services.core.decompose.thresholds import (
    DEFAULT_K,
    HEDGE_SHARE,
    MIN_RATING_CHANCE,
    MIN_RATING_MIN_VIEWS,
    MIN_RATING_OUTLIER_SHARE,
    MIN_RATING_SLACK,
    PRICE_BAND_CHANCE,
    PRICE_BAND_MAX_RATIO,
    PRICE_BAND_MIN_SHARE,
    PRICE_BAND_MIN_VIEWS,
    PRICE_BAND_STEP,
    PRICE_WIDEN_FACTOR,
)
from services.core.recency import recency_weights

BACKEND = "rules"
K_MIN, K_MAX = 1, 50  # K_MAX: a recommendation panel never shows more; keeps the optimizer fast

# Cold start (no signal at all): the most likely purchases, one per brand, instead of the dearest items.
COLD_START_MAX_PER_BRAND = 1

SUPPORTED_OBJECTIVES = (optimization_pb2.OBJECTIVE_EXPECTED_REVENUE, optimization_pb2.OBJECTIVE_EXPECTED_MARGIN,
                        optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY)


def _of_types(views: Sequence[View], types: Sequence[str]) -> list[View]:
    """The views of the given product types."""
    return [v for v in views if v.category in types]


def _hard_from(views: list[View], attr: str, ground: Vocabulary, field: Field) -> list[str]:
    """The terms `views` alone make hard (their own weights, no summary terms)."""
    return hard_terms(term_weights((), views, attr, ground, field, []), views, attr, ground)


def _hard_before(views: Sequence[View], m: int, attr: str, ground: Vocabulary, field: Field) -> list[str]:
    """The terms the first `m` views alone made hard, reweighted for recency as when the m-th was the newest."""
    sub = [replace(v, weight=w) for v, w in zip(views[:m], recency_weights(m), strict=True)]
    return _hard_from(sub, attr, ground, field)


def _glance_hedge(views: Sequence[View], attr: str, ground: Vocabulary, field: Field,
                  hold: Callable[[View], bool | None] = lambda v: None) -> list[str] | None:
    """Rule: one view off the reading the earlier views settled is a glance, a hedge at most, never a replacement
    of the kept reading. The field's reading is followed view by view (each prefix of the views, reweighted for
    recency, through hard_terms): where the newest view changes what the views held hard when the reading last
    settled, and it is not the second view in a row off the kept reading alike with the one before (a change of
    mind, followed in full; alike: the same brand or colour, or both within the budget and rating floor the views
    read, `hold`), the field is unsettled: nothing of it is hard, the kept reading's strongest term gets
    half the panel (returned) while it is on a runner-up's share of the views ([] when faded or none was kept), and
    the new reading only its soft weight, the strongest as the newest. None when settled.
    Two glances in a row that share neither brand nor colour are no new reading: before, the second of them
    dropped the kept reading's half (held-out draw 3 `noisy-brand`: Pinecrest, then a white Meridian and a yellow
    Juniper glance, 1 of 8 Pinecrest).
    Before, held-out draw 2 `noisy-brand` (Wexford, Granite, Wexford, Ardent; the glances grey): the fourth view
    took Wexford out of the hard brands (2 of 4 views, recency-weighted 0.41) and made grey hard (2 of 4, 0.59),
    0 of 8 right; `brand-loyal`: two Ardent sunglasses, purple then blue, made "blue or purple" hard, no Ardent
    sunglasses left in them, and the relaxation gave up the product type (0 of 8)."""
    values = [ground(getattr(v, attr)) if getattr(v, attr) else None for v in views]
    kept: list[str] = []  # the reading as last settled
    hedge: list[str] | None = None
    for n in range(1, len(views) + 1):
        now = _hard_before(views, n, attr, ground, field)
        # a change of mind: the two newest views both off the kept reading and sharing their value, or (a reading
        # kept) the other field's value (a new brand in new colours too) or the budget and rating floor the views
        # read (`hold`): a new reading seen twice; two off views sharing none of them are two glances
        off = [values[i] not in kept for i in (n - 2, n - 1)] if n >= 2 else [False]
        a, b = views[n - 2], views[n - 1]
        again = all(off) and (values[n - 1] is not None and values[n - 2] == values[n - 1]
                              or bool(kept) and (_alike(a, b) or bool(hold(a) and hold(b))))
        on_kept = values[n - 1] in kept  # a view on the kept reading never unsettles it (a companion may go)
        # nor does a second taste two views back joining the kept reading (noisy-brand's last view, a second glance
        # at one brand: "kept or that brand" stays hard, 6 of 8 right, where half the panel kept 5)
        joins = bool(kept) and set(kept) <= set(now) and all(
            values[:n].count(t) >= HARD_TERM_MIN_VIEWS for t in now if t not in kept)
        settled = n == 1 or set(now) == set(kept) or again or on_kept or joins
        # the kept reading keeps its half while it is on a runner-up's share of the views; faded, nothing is hard
        hedge = None if settled else [t for t in kept[:1] if values[:n].count(t) >= COMPANION_TERM_WEIGHT * n]
        if settled:
            kept = now
    return hedge


def _alike(a: View, b: View) -> bool:
    """Whether two views share their brand or their colour."""
    return any(getattr(a, x) and norm(getattr(a, x)) == norm(getattr(b, x)) for x in ("brand", "colour"))


def _type_glance(views: Sequence[View], ground: Vocabulary, field: Field) -> tuple[str, str] | None:
    """Rule: (kept type, glanced type) when the newest view is of a type the views before it did not hold hard,
    the view before it was of the one type they held hard (and held before that view too), and that type is not
    hard any more: one view off the kept type is a glance, kept as a one-view switch keeps both types (half the
    panel each, decompose), never a replacement. `term_change` covers this only when every older view was of one type;
    here they need only have settled on one. Two views in a row off the kept type are a change of mind, followed as
    before.
    Before, held-out draw 2 `noisy-colour` (footwear, a lamp, footwear, headphones): the fourth view left footwear
    on 2 of 4 views (recency-weighted 0.41) and the product type went whole: no footwear on the panel."""
    values = [ground(v.category) if v.category else None for v in views]
    n = len(values)
    if n < 3 or values[-1] is None:
        return None
    kept = _hard_before(views, n - 1, "category", ground, field)
    if len(kept) != 1 or values[-2] != kept[0] or values[-1] == kept[0]:
        return None
    # settled, not just arrived: the type was held before its last view too (five views over four types, the two
    # newest before the glance cameras, are no kept reading: halving the panel on them made chance colours hard)
    if kept[0] not in _hard_before(views, n - 2, "category", ground, field):
        return None
    return kept[0], values[-1]


@dataclass(frozen=True)
class _Habits:
    """What the views of the kept product types say beside brand and colour: their prices, budget and rating floor."""

    relevant: list[View]  # the views of the kept types (all views without one)
    prices: list[float]
    scope: object  # catalog mask of the kept types, None without one
    band: tuple[float, float] | None
    floor: float | None

    def hold(self, view: View) -> bool | None:
        """Whether `view` fits the budget and rating floor read off the views; None when they read neither."""
        if self.band is None and self.floor is None:
            return None
        return ((self.band is None or self.band[0] <= view.price <= self.band[1])
                and (self.floor is None or (view.rating or 0.0) >= self.floor))


def _habits(views: list[View], cats: set[str], catalog: Catalog) -> _Habits:
    """Price and rating habits belong to the product type: with the type settled, read them off its views only
    (after an intent change, the old type's prices say nothing about the new budget)."""
    relevant = [v for v in views if not cats or v.category in cats] or views
    prices = [v.price for v in relevant if v.price > 0]
    scope = catalog.mask(categories=sorted(cats)) if cats else None
    band = _price_band(prices, catalog.price[scope] if scope is not None else catalog.price)
    floor = _rating_floor(relevant, list(catalog.rating[_chosen_among(relevant, cats, catalog)]))
    return _Habits(relevant, prices, scope, band, floor)


def _price_band(prices: list[float], scope_prices: Sequence[float] = ()) -> tuple[float, float] | None:
    """Rule: the tightest run of sorted viewed prices that holds >= PRICE_BAND_MIN_VIEWS prices and
    >= PRICE_BAND_MIN_SHARE of them, if its high/low <= PRICE_BAND_MAX_RATIO. Else, from fewer or noisier
    views: the largest tightest run holding at least half of them (and two) with that ratio, if that many of
    the views landing in so narrow a price window is unlikely by chance (< PRICE_BAND_CHANCE) given the scope's
    prices (the catalog's, of the product type). Tightest, not widest: one stray view must not stretch the
    shopper's budget. The run's ends are widened by its spread / (views in it - 1), the unbiased estimate of a
    range's ends from that many prices; relaxation widens further when too few products fit."""
    prices = sorted(p for p in prices if p > 0)
    n = len(prices)
    if n < 2:
        return None

    def tightest(m: int) -> tuple[float, float]:
        # strict <: on ties the cheaper run wins, deterministically
        i = min(range(n - m + 1), key=lambda j: (prices[j + m - 1] / prices[j], j))
        return prices[i], prices[i + m - 1]

    def band(lo: float, hi: float, m: int) -> tuple[float, float]:
        spread = (hi - lo) / (m - 1)
        return round(lo - spread, 2), round(hi + spread, 2)

    need = max(PRICE_BAND_MIN_VIEWS, math.ceil(PRICE_BAND_MIN_SHARE * n - 1e-9))
    if n >= need:
        lo, hi = tightest(need)
        if hi <= lo * PRICE_BAND_MAX_RATIO:
            return band(lo, hi, need)
    scope = [p for p in scope_prices if p > 0]
    if not scope:
        return None
    for m in range(n, max(2, math.ceil(n / 2)) - 1, -1):
        lo, hi = tightest(m)
        if hi > lo * PRICE_BAND_MAX_RATIO:
            continue
        mass = max(sum(lo <= p <= hi for p in scope), 1) / len(scope)
        # P(some m of n random prices fall in one window of this mass) <= C(n, m) * m * mass^(m-1)
        if math.comb(n, m) * m * mass ** (m - 1) < PRICE_BAND_CHANCE:
            return band(lo, hi, m)
    return None


def _rating_floor(views: Sequence[View], catalog_ratings: Sequence[float]) -> float | None:
    """The rating floor a shopper keeps to, inferred from the ratings of the products they opened.

    Keep all but the lowest MIN_RATING_OUTLIER_SHARE of the viewed ratings; their minimum r is a floor
    when opening that many products rated >= r would be unlikely by chance (binomial tail with p = the share
    of the catalog rated >= r, below MIN_RATING_CHANCE). Returns r - MIN_RATING_SLACK, or None."""
    ratings = sorted(v.rating for v in views if v.rating is not None)
    n = len(ratings)
    if n < MIN_RATING_MIN_VIEWS or not len(catalog_ratings):
        return None
    outliers = math.floor(n * MIN_RATING_OUTLIER_SHARE)
    floor = ratings[outliers]
    p = sum(r >= floor for r in catalog_ratings) / len(catalog_ratings)
    # the chance of as many views rated >= r as were opened: views tied at r count (ratings have one decimal), and the
    # lowest kept out as outliers may be as well rated as the rest (4.3, 4.3, 4.8, 4.9: four at 4.3+, not three)
    need = sum(r >= floor for r in ratings)
    chance = sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(need, n + 1))
    if chance > MIN_RATING_CHANCE:
        return None
    return round(floor - MIN_RATING_SLACK, 2)


def _chosen_among(views: Sequence[View], types: set[str], catalog: Catalog) -> np.ndarray:
    """The products a rating habit is read against (mask): those of the kept types sharing a brand or colour every view
    has. A shopper who keeps to one colour chooses among its products, which may be rated above or below the type's
    (brown sunglasses: 36 % rated 4.3+, the type's 49 %; three brown views rated 4.3+ are a habit there, a coin toss
    over the type)."""
    grounded = [v for v in views if v.product_id is not None]
    shared = {attr: sorted({getattr(v, attr) for v in grounded}) for attr in ("brand", "colour")}
    return catalog.mask(categories=sorted(types), **{f"{attr}s": values for attr, values in shared.items()
                                                    if len(values) == 1 and values[0]})


def _is_cold(summary: summaries_pb2.BehaviourSummary) -> bool:
    """No signal at all yet: nothing viewed, browsed, filtered or searched."""
    return not (summary.viewed_products or summary.product_types or summary.brands or summary.colours
                or summary.ui_filter_fields or summary.search_queries or summary.price_range.high > 0)


# --- the backend ------------------------------------------------------------------------------------

def decompose(
    summary: summaries_pb2.BehaviourSummary, catalog: Catalog, k: int = DEFAULT_K
) -> optimization_pb2.OptimizationRequest:
    """Turn a behaviour summary into a grounded, bounded, satisfiable OptimizationRequest."""
    request = optimization_pb2.OptimizationRequest(
        session_id=summary.session_id,
        tenant=summary.tenant,
        window_seq=summary.window_seq,
        k=min(max(int(k), K_MIN), K_MAX),
        objective=optimization_pb2.OBJECTIVE_EXPECTED_REVENUE,
        backend=BACKEND,
    )
    request.summary.CopyFrom(summary)
    request.trace.CopyFrom(summary.trace)  # later stages append their own spans
    if _is_cold(summary):
        # Rule: before any signal, show what most shoppers buy, one per brand: revenue maximisation with no
        # preference would show the catalog's most expensive items, which few shoppers want.
        request.objective = optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY
        request.constraints.max_per_brand = COLD_START_MAX_PER_BRAND
        return repair_request(request, catalog)

    relaxations: list[optimization_pb2.Relaxation] = []
    views = views_of(summary, catalog)
    explicit = explicit_of(summary, catalog)

    sources = {"brands": summary.brands, "categories": summary.product_types, "colours": summary.colours}
    attrs = {"brands": "brand", "categories": "category", "colours": "colour"}
    hard: dict[str, list[str]] = {}
    switch: tuple[str, str] | None = None  # (old type, new type) after one view of a new type
    terms_of: dict[str, dict[str, float]] = {}
    glances: dict[str, list[str]] = {}  # unsettled field -> the kept reading's term ([] if none), none hard
    old_type_terms: dict[str, list[str]] = {}  # after one view of a new type: the old type's own hard terms
    for field in ("categories", "brands", "colours"):  # categories first: they decide if filters are stale
        f = next(x for x in FIELDS if x.name == field)
        ground = field_vocabulary(catalog, f)
        attr = attrs[field]
        terms = term_weights(sources[field], views, attr, ground, f, relaxations)
        chosen = hard_terms(terms, views, attr, ground)
        if field == "categories" and not views and not chosen:
            # No product opened yet: the type the shopper browses (a category listing) is all the evidence of what
            # they look for, and nothing contradicts it. Soft, it lost to revenue: a backpacks listing showed the
            # catalog's dearest watches until the first product view's panel (0 of 8 right over that panel's wait).
            chosen = sorted((t for t, w in terms.items() if w >= HARD_TERM_WEIGHT), key=lambda t: (-terms[t], t))
        if field != "categories" and switch is not None:
            # While one view of a new type keeps two types, a brand or colour is hard only where each type's own
            # views make one hard: a brand on one old view and on the new one was hard for both types over the
            # whole session's views, and took the new type's half of the panel from the nearest-priced items.
            # each type's own views weigh its terms (the summary's weights are over both types: one beige shoe before a
            # white lamp weighed 0.41 and made no colour hard for the footwear, held-out draw 2 `noisy-colour`)
            # the old type's term needs two of its views: one shoe's brand and one lamp's made "Dovetail or Juniper"
            # hard, too few beige shoes left for the footwear half (held-out draw 2 `noisy-colour`, 3 of 8 right)
            per_type = [_hard_from(_of_types(views, [t]), attr, ground, f) for t in switch]
            old_views = _of_types(views, [switch[0]])
            per_type[0] = [t for t in per_type[0]
                           if sum(ground(getattr(v, attr) or "") == t for v in old_views)
                           + (t in explicit.terms[field]) >= HARD_TERM_MIN_VIEWS]  # a search or filter backs it too
            chosen = sorted(set().union(*per_type), key=lambda t: (-terms.get(t, 0.0), t)) if all(per_type) else []
            old_type_terms[field] = per_type[0]
        # Explicit signals: a filter or searched term is hard unless the shopper's views have moved away from it
        # (or, for a filter, the shopper left the category it was set on).
        stale_filters = (explicit.category is not None and hard.get("categories")
                         and explicit.category not in hard["categories"])
        for value, evidence in sorted(explicit.terms[field].items(), key=lambda kv: (-kv[1], kv[0])):
            is_filter = evidence >= FILTER_EVIDENCE
            if is_filter and stale_filters:
                continue
            terms[value] = max(terms.get(value, 0.0), 1.0 if is_filter else SEARCH_TERM_WEIGHT)
            fits = lambda v, value=value, ground=ground, attr=attr: ground(getattr(v, attr) or "") == value  # noqa: E731
            if share(views, fits) >= STALE_SHARE:
                chosen = [value] if is_filter else list(dict.fromkeys([*chosen, value]))
                if is_filter:
                    break
        if field == "categories" and (change := term_change(views, attr, ground)) and change[2] == 1 \
                and set(chosen) <= {change[0], change[1]} and change[0] in chosen:
            # One view of a type none of the older views had: a glance or a change of mind, which one view cannot
            # tell. Both types stay, and each gets half the panel at its own prices (groups added below).
            switch = change[:2]
            chosen = list(dict.fromkeys([*chosen, change[1]]))
        elif field == "categories" and (glance := _type_glance(views, ground, f)) and glance[0] not in chosen \
                and set(chosen) <= set(glance):
            switch = glance
            chosen = list(glance)
        stated = any(e >= FILTER_EVIDENCE and v in chosen for v, e in explicit.terms[field].items())
        if field == "brands":  # the product type is decided: the budget and rating floor its views read
            habits = _habits(views, set(hard["categories"]), catalog)
        if field != "categories" and switch is None and not stated \
                and (hedge := _glance_hedge(views, attr, ground, f, habits.hold)) is not None:
            chosen = []
            glances[field] = hedge
        hard[field] = chosen
        terms_of[field] = terms
    for field in FIELDS:
        getattr(request.constraints, field.name).extend(hard[field.name])
        # All grounded terms stay soft preferences too: within a multi-term hard constraint they still
        # rank the stronger term first.
        for value, weight in sorted(terms_of[field.name].items(), key=lambda kv: (-kv[1], kv[0])):
            getattr(request.preferences, field.name).add(value=value, weight=min(weight, 1.0))

    cats = set(hard["categories"])
    relevant, prices, scope, band = habits.relevant, habits.prices, habits.scope, habits.band
    old_band = None
    if switch is not None:  # each type's prices make its own budget: no hard band over both (groups below)
        old_prices = [v.price for v in views if v.category == switch[0] and v.price > 0]
        old_band = _price_band(old_prices, catalog.price[catalog.mask(categories=[switch[0]])])
        band = None
    price_filter = explicit.price
    if price_filter is not None and not (explicit.category and cats and explicit.category not in cats):
        lo, hi = price_filter
        inside = share(views, lambda v: (lo is None or v.price >= lo) and (hi is None or v.price <= hi))
        if inside >= STALE_SHARE:  # an explicit budget beats one inferred from a few prices
            band = (lo, hi)
    if band is not None:
        if band[0]:
            request.constraints.price_min = band[0]
        if band[1]:
            request.constraints.price_max = band[1]
    if prices:
        request.preferences.price_anchor = float(_weighted_median(
            [(v.price, v.weight) for v in relevant if v.price > 0]))
    elif band is not None and band[0] and band[1]:
        request.preferences.price_anchor = (band[0] * band[1]) ** 0.5
    elif 0 < summary.price_range.low <= summary.price_range.high:
        # no views, but a price range was on screen (e.g. a filter): its geometric middle is the anchor
        request.preferences.price_anchor = (summary.price_range.low * summary.price_range.high) ** 0.5

    catalog_ratings = catalog.rating[scope] if scope is not None else catalog.rating
    # like the band, a rating habit is read within one type: none over two types after a switch
    floor = habits.floor if switch is None else None
    if floor is not None:
        request.constraints.min_rating = floor

    _listing_order(request, summary, views, catalog)

    # Rule: the shopper has already seen these; recommending them again wastes panel slots. The summary's
    # seen_product_ids covers the whole session, viewed_products only its recent part.
    seen = [*summary.seen_product_ids, *(v.product_id for v in views if v.product_id is not None)]
    request.constraints.exclude_product_ids.extend(dict.fromkeys(seen))

    request.relaxations.extend(relaxations)
    repair_request(request, catalog)
    # A sort by rating is the shopper's rating reading while the views are too few for a floor of their own
    # (_rating_floor); from then on the views say it, and a colour they all share is a habit, not a guess.
    few = len(relevant) < MIN_RATING_MIN_VIEWS
    sorted_level = sorted_rating(request, catalog) if switch is None and few else None
    yield_to_the_sorted_rating(request, catalog, sorted_level, explicit)
    count = int(request.k * HEDGE_SHARE)
    if count:
        for field, kept in glances.items():
            for term in kept:
                getattr(request.constraints.at_least.add(count=count), field).append(term)
    if switch is not None and count and set(switch) <= set(request.constraints.categories):
        old_group = request.constraints.at_least.add(count=count, categories=[switch[0]])
        # the old type's half is the old reading whole: with its own brand or colour (before, "beige or white"
        # over both types let white shoes fill the footwear half: held-out draw 2 `noisy-colour`, 3 of 8 right)
        for field, values in old_type_terms.items():
            getattr(old_group, field).extend(values)
        if old_band is not None:
            old_group.price_min, old_group.price_max = old_band
        new_prices = [v.price for v in views if v.category == switch[1] and v.price > 0]
        if new_prices:
            hedge_price(request, catalog, new_prices, switch[1])
        else:
            request.constraints.at_least.add(count=count, categories=[switch[1]])
    elif price_filter is None and request.constraints.categories and 0 < len(prices) < PRICE_BAND_MIN_VIEWS:
        hedge_starved_budget(request, catalog, prices, explicit)
        rating = hedged_rating(relevant, list(catalog_ratings)) if floor is None else None
        # listed after the brand/colour hedges, so it yields first when the groups cannot all fit the panel (unless it
        # keeps to a rating more of the views show than the brand or colour: hedges._yield_to_the_rating)
        hedge_price(request, catalog, prices, rating=rating, sorted_level=sorted_level, views=relevant)
    return request


# A listing order the shopper chose (summary.listing_sort_order) leans the panel towards that end of its candidates
# (attraction.py), softly: one listing view is no hard constraint. The views the shopper opens since then say whether
# it still holds: the lean is the recency-weighted share of views in the ordered-for half of their product type
# (rated at least the type's median for a sort by rating; priced at most, or at least, the type's median for a sort by
# price), and gone below STALE_SHARE, as a filter the views have left.
_LEANING_ORDERS = {summaries_pb2.SORT_ORDER_RATING_DESC: ("rating", 1.0),
                   summaries_pb2.SORT_ORDER_PRICE_ASC: ("price", -1.0),
                   summaries_pb2.SORT_ORDER_PRICE_DESC: ("price", 1.0)}


def _listing_order(request: optimization_pb2.OptimizationRequest, summary: summaries_pb2.BehaviourSummary,
                   views: Sequence[View], catalog: Catalog) -> None:
    """Rule: a sort by rating or price becomes Preferences.listing_order, weighted by how far the views since agree
    with it; none for another order (newest: the catalog has no date) or once the views contradict it."""
    lean = _LEANING_ORDERS.get(summary.listing_sort_order)
    if lean is None:
        return
    attr, sign = lean
    medians = category_quantiles(catalog, attr, 0.5)  # each product type's median
    rated = [v for v in views if v.product_id is not None and v.category in medians]

    def agrees(v: View) -> bool:
        value = v.rating if attr == "rating" else v.price
        return sign * (value - medians[v.category]) >= 0

    weight = share(rated, agrees)
    if weight >= STALE_SHARE:
        request.preferences.listing_order.order = summary.listing_sort_order
        request.preferences.listing_order.weight = round(weight, 3)


def _weighted_median(pairs: Sequence[tuple[float, float]]) -> float:
    """The value at half of the total weight (pairs of value, weight); plain median for equal weights."""
    ordered = sorted(pairs)
    if all(w == ordered[0][1] for _, w in ordered):
        return float(statistics.median(x for x, _ in ordered))
    half, acc = sum(w for _, w in ordered) / 2, 0.0
    for value, weight in ordered:
        acc += weight
        if acc >= half:
            return value
    return ordered[-1][0]


def _candidates(catalog: Catalog, c: optimization_pb2.Constraints) -> int:
    """How many products the request leaves: the optimizer's own candidate function, exclusions included."""
    return int(candidate_rows(catalog, c).size)


def _describe(c: optimization_pb2.Constraints) -> str:
    parts = [f"{f.name}={list(getattr(c, f.name))}" for f in FIELDS if getattr(c, f.name)]
    if c.HasField("price_min") or c.HasField("price_max"):
        lo = f"{c.price_min:g}" if c.HasField("price_min") else ""
        hi = f"{c.price_max:g}" if c.HasField("price_max") else ""
        parts.append(f"price={lo}..{hi}")
    if c.HasField("min_rating"):
        parts.append(f"min_rating={c.min_rating:g}")
    if c.exclude_brands:
        parts.append(f"exclude_brands={list(c.exclude_brands)}")
    return ", ".join(parts) or "no constraints"


_PRICE = ("price_min", "price_max")
_LISTS = ("brands", "categories", "colours", "exclude_brands")


def _snapshot(c: optimization_pb2.Constraints, fields: Sequence[str]) -> tuple:
    out = []
    for name in fields:
        if name in _LISTS:
            out.append(tuple(getattr(c, name)))
        else:
            out.append(getattr(c, name) if c.HasField(name) else None)
    return tuple(out)


def _restore(c: optimization_pb2.Constraints, fields: Sequence[str], values: tuple) -> None:
    for name, value in zip(fields, values, strict=True):
        if name in _LISTS:
            del getattr(c, name)[:]
            getattr(c, name).extend(value)
        elif value is None:
            c.ClearField(name)
        else:
            setattr(c, name, value)


# Relaxation: when fewer than k products meet every constraint, which constraint does the shopper give up
# first? One order, by what the constraint rests on (earlier tiers are given up first):
#   1. "excluded"  - brands the model excluded (exclude_brands): a dislike guessed from what the shopper did not
#                    open; nothing on screen says "not X", so it is the weakest claim and yields first.
#   2. "inferred"  - brand, product type, colour, price band, rating floor read off the shopper's views (or a
#                    searched word): weighed against each other by evidence (below).
#   3. "stated"    - set by the shopper's own UI filter (a filter chip, a price filter): the shopper said so;
#                    it outlasts anything inferred (decompose only keeps a filter the views still follow).
#   never relaxed  - the products already seen (exclude_product_ids): showing them again in the panel wastes
#                    its slots, while a dropped filter still ranks its own products first (it stays a soft
#                    preference). Too few unseen products at all -> a shorter panel, never a repeated one.
# Within a tier, a greedy build-up: start from no relaxable constraint, add them back one at a time,
# best-evidenced first, each at its strictest level that still leaves >= k candidates, else not at all.
# The next constraint is the one with the strongest evidence given those already kept: the KL divergence of
# support from base (see _lift), where support is the recency-weighted share of viewed products consistent
# with the constraint and base the share of the remaining candidates that is (a colour on every view where
# one candidate in ten has it is strong evidence; a brand that makes a third of the backpacks in a price band,
# seen on half the views, is weak). A searched word adds a bonus. No kind of attribute outranks another by
# itself; ties keep the order of _RELAXABLE.
_RELAXABLE = ("categories", "brands", "colours", "price_band", "min_rating", "exclude_brands")
TIERS = ("excluded", "inferred", "stated")  # given up first -> kept longest
STATED_BONUS = {FILTER_EVIDENCE: 2.0, SEARCH_EVIDENCE: 1.0}  # evidence added per kind of statement
# A product of another type fails the shopper outright, a wrong colour or brand only in part: the product
# type's evidence counts this much more. A weight, not an order: a type seen on few views still yields.
CATEGORY_EVIDENCE_WEIGHT = 1.5


def _support(request: optimization_pb2.OptimizationRequest, name: str, catalog: Catalog | None = None) -> float:
    """Recency-weighted share of the viewed products consistent with a hard constraint (1.0 without views),
    so support follows the newest intent as the hard terms do (a chance term is kept out of the hard
    constraints by HARD_TERM_MIN_SHARE, not here). All views count for every constraint: a price band read
    off one product type's views must not look better supported than that type itself."""
    fits = _fits(request, name, catalog)
    if not fits:
        return 1.0
    weights = recency_weights(len(fits))  # oldest to newest: after an intent change the new intent counts
    return sum(w for w, ok in zip(weights, fits, strict=True) if ok) / sum(weights)


def _fits(request: optimization_pb2.OptimizationRequest, name: str, catalog: Catalog | None = None) -> list[bool]:
    """For each viewed product, oldest first: whether it is consistent with the hard constraint `name`."""
    c, viewed = request.constraints, list(request.summary.viewed_products)
    if name == "price_band":
        lo = c.price_min if c.HasField("price_min") else 0.0
        hi = c.price_max if c.HasField("price_max") else float("inf")
        return [lo <= v.price <= hi for v in viewed]
    if name == "min_rating":
        by_id = catalog.by_id if catalog is not None else {}
        return [v.product_id in by_id and by_id[v.product_id].rating >= c.min_rating for v in viewed]
    if name == "exclude_brands":
        banned = {norm(x) for x in c.exclude_brands}
        return [norm(v.brand) not in banned for v in viewed]
    field = {"colours": "colour", "categories": "category", "brands": "brand"}[name]
    allowed = {norm(x) for x in getattr(c, name)}
    return [norm(getattr(v, field)) in allowed for v in viewed]


def _stated(request: optimization_pb2.OptimizationRequest, name: str, catalog: Catalog) -> float:
    """Bonus evidence for a constraint the shopper stated: through a UI filter or a searched word."""
    explicit = explicit_of(request.summary, catalog)
    if name == "price_band":
        # Only a band that is the filter: one the views left is stale (decompose), and the band then is read off
        # the views; the filter's bonus made that inferred band outlast the type and brand (a $94-95.5 band kept,
        # Footwear and Ardent dropped, 1 of 8 right).
        c = request.constraints
        band = (c.price_min if c.HasField("price_min") else None, c.price_max if c.HasField("price_max") else None)
        return STATED_BONUS[FILTER_EVIDENCE] if explicit.price is not None and band == explicit.price else 0.0
    if name in ("min_rating", "exclude_brands"):
        return 0.0
    values = set(getattr(request.constraints, name))
    strongest = max((e for v, e in explicit.terms[name].items() if v in values), default=0.0)
    if strongest >= FILTER_EVIDENCE:
        return STATED_BONUS[FILTER_EVIDENCE]
    return STATED_BONUS[SEARCH_EVIDENCE] * strongest / SEARCH_EVIDENCE


def _lift(support: float, base: float) -> float:
    """How far the shopper's views depart from chance: the binary KL divergence between the share of views
    consistent with the constraint (support) and the share of candidates that are (base). The views that
    do not fit count against it, so a colour on most views does not outweigh a product type on all."""
    b = min(max(base, 1e-6), 1 - 1e-6)
    s = min(max(support, 0.0), 1.0)
    fit = s * math.log(s / b) if s > 0 else 0.0
    miss = (1 - s) * math.log((1 - s) / (1 - b)) if s < 1 else 0.0
    return fit + miss


def _levels(name: str, c: optimization_pb2.Constraints) -> list[tuple[str, tuple]]:
    """The constraint's settings from strictest to loosest, as (how, snapshot); loosest is 'absent'."""
    if name == "price_band":
        band = _snapshot(c, _PRICE)
        steps = math.ceil(math.log(PRICE_WIDEN_FACTOR) / math.log(PRICE_BAND_STEP))
        factors = [PRICE_BAND_STEP ** j for j in range(1, steps)] + [PRICE_WIDEN_FACTOR]
        return [("kept", band)] + [
            (f"widened x{f:.3g}", tuple(None if v is None else round(v / f if i == 0 else v * f, 2)
                                         for i, v in enumerate(band))) for f in factors]
    return [("kept", _snapshot(c, _FIELDS_OF[name]))]


_FIELDS_OF = {"categories": ("categories",), "brands": ("brands",), "colours": ("colours",),
              "price_band": _PRICE, "min_rating": ("min_rating",), "exclude_brands": ("exclude_brands",)}


def _tier(name: str, stated: float) -> int:
    """Index into TIERS: how long the constraint lasts when the panel cannot be filled."""
    if name == "exclude_brands":
        return TIERS.index("excluded")
    return TIERS.index("stated" if stated >= STATED_BONUS[FILTER_EVIDENCE] else "inferred")


def _relax(request: optimization_pb2.OptimizationRequest, catalog: Catalog) -> list[optimization_pb2.Relaxation]:
    c, k = request.constraints, request.k
    if _candidates(catalog, c) >= k:
        return []
    present = [n for n in _RELAXABLE if any(v not in (None, ()) for v in _snapshot(c, _FIELDS_OF[n]))]
    support = {n: _support(request, n, catalog) for n in present}
    backing = {n: _fits(request, n, catalog) for n in ("brands", "colours") if n in present}
    stated = {n: _stated(request, n, catalog) for n in present}
    wanted = {n: _levels(n, c) for n in present}
    empty = {n: tuple(() if f in _LISTS else None for f in _FIELDS_OF[n]) for n in present}
    for n in present:
        _restore(c, _FIELDS_OF[n], empty[n])

    def evidence(n: str) -> float:
        before = _candidates(catalog, c)
        _restore(c, _FIELDS_OF[n], wanted[n][0][1])
        after = _candidates(catalog, c)
        _restore(c, _FIELDS_OF[n], empty[n])
        if not after:
            return -math.inf  # contradicts what is already kept: nothing to weigh
        weight = CATEGORY_EVIDENCE_WEIGHT if n == "categories" else 1.0
        return weight * _lift(support[n], after / before if before else 0.0) + stated[n]

    # An inferred budget or rating floor is a habit within a product type (decompose reads it off the type's
    # views): it is weighed only once the type is settled, so it can never push out the type it came from.
    # Likewise a brand or colour read off a single product view: one product says what kind of thing the shopper
    # looks for far more surely than which of its brand or colour they want.
    single = len({v.product_id for v in request.summary.viewed_products}) < HARD_TERM_MIN_VIEWS
    waits = {n for n in ("price_band", "min_rating", *(("brands", "colours") if single else ()))
             if n in present and not stated[n]}

    relaxations = []
    remaining = list(present)
    while remaining:
        eligible = [x for x in remaining if not (x in waits and "categories" in remaining)]
        # kept longest first: highest tier, then strongest evidence
        n = min(eligible, key=lambda x: (-_tier(x, stated[x]), -evidence(x), _RELAXABLE.index(x)))
        remaining.remove(n)
        tried: list[str] = []
        outcome = "dropped"
        for how, values in wanted[n]:
            _restore(c, _FIELDS_OF[n], values)
            count = _candidates(catalog, c)
            if count >= k:
                outcome = how
                break
            tried.append(f"only {count} candidates for k={k} with {_describe(c)}")
        else:
            _restore(c, _FIELDS_OF[n], empty[n])
        if tried:
            if len(tried) > 2:  # a band widened step by step: the first failure says why, the outcome how far
                tried = [tried[0], f"{len(tried) - 1} wider steps too few"]
            reason = f"{'; then '.join(tried)}; {n} {outcome} -> {_candidates(catalog, c)} candidates"
            relaxations.append(optimization_pb2.Relaxation(constraint=n, reason=reason))
    pair = ("brands", "colours")
    kept = [n for n in pair if n in present and _snapshot(c, _FIELDS_OF[n]) != empty[n]]
    inferred = all(n in present and not stated[n] for n in pair)
    # Which of a brand and a colour the shopper wants cannot be told from one view, nor from views that back each as
    # often, the newest both: the lift then only says which is rarer in the catalog, not which the shopper follows
    # (held-out draw 2 `short-home`: two grey Velmont lamps, too few of both to fill the panel, kept Velmont alone,
    # 0 of 8 grey lamps; draw 3 `noisy-brand`: Pinecrest on the first and the newest of four views, yellow on the
    # two newest, kept yellow alone, 0 of 8 Pinecrest).
    untold = single or inferred and backing["brands"][-1] and backing["colours"][-1] \
        and sum(backing["brands"]) == sum(backing["colours"])
    if untold and inferred and len(kept) == 1 and k >= 2:
        # The brand and colour cannot fill the panel together: half the panel for each instead of all of it for one.
        _restore(c, _FIELDS_OF[kept[0]], empty[kept[0]])
        count = int(k * HEDGE_SHARE)
        for n in pair:
            getattr(c.at_least.add(count=count), n).extend(wanted[n][0][1][0])
        relaxations.append(optimization_pb2.Relaxation(constraint=kept[0], reason=(
            f"{sum(backing['brands'])} view(s) each, the newest both: brand {list(wanted['brands'][0][1][0])} or "
            f"colour {list(wanted['colours'][0][1][0])} cannot be told apart; {kept[0]} not kept alone: at least "
            f"{count} of {k} items of each")))
    return relaxations


def repair_request(
    request: optimization_pb2.OptimizationRequest, catalog: Catalog
) -> optimization_pb2.OptimizationRequest:
    """Make any backend's request valid in place (and return it): k bounded, objective set, constraint and
    preference terms grounded in the catalog, prices and ratings sane, contradictions relaxed. Every
    change to a hard constraint is recorded as a Relaxation."""
    def note(constraint: str, reason: str) -> None:
        request.relaxations.add(constraint=constraint, reason=reason)

    if not K_MIN <= request.k <= K_MAX:
        bounded = DEFAULT_K if request.k == 0 else min(max(request.k, K_MIN), K_MAX)
        if request.k != 0:
            note("k", f"k={request.k} outside [{K_MIN}, {K_MAX}]; set to {bounded}")
        request.k = bounded
    if request.objective not in SUPPORTED_OBJECTIVES:
        request.objective = optimization_pb2.OBJECTIVE_EXPECTED_REVENUE

    c, p = request.constraints, request.preferences
    for field in FIELDS:
        ground = field_vocabulary(catalog, field)
        values: list[str] = []
        for value in getattr(c, field.name):
            canonical = ground(value)
            if canonical is None:
                note(field.name, f"not in catalog: {field.noun} {value!r}")
            elif canonical not in values:
                values.append(canonical)
        del getattr(c, field.name)[:]
        getattr(c, field.name).extend(values)
        terms: dict[str, float] = {}
        for term in getattr(p, field.name):
            canonical = ground(term.value)
            if canonical is not None:  # soft terms are dropped silently: they never remove candidates
                terms[canonical] = max(terms.get(canonical, 0.0), min(max(term.weight, 0.0), 1.0))
        del getattr(p, field.name)[:]
        for value, weight in terms.items():
            getattr(p, field.name).add(value=value, weight=weight)

    for name in _PRICE:
        if c.HasField(name) and not getattr(c, name) > 0:
            note(name, f"{name}={getattr(c, name):g} is not positive; dropped")
            c.ClearField(name)
    if c.HasField("price_min") and c.HasField("price_max") and c.price_min > c.price_max:
        note("price_band", f"price_min={c.price_min:g} > price_max={c.price_max:g}; swapped")
        c.price_min, c.price_max = c.price_max, c.price_min
    if c.HasField("min_rating") and not 0 <= c.min_rating <= 5:
        note("min_rating", f"min_rating={c.min_rating:g} outside [0, 5]; dropped")
        c.ClearField("min_rating")
    if p.HasField("price_anchor") and not p.price_anchor > 0:
        p.ClearField("price_anchor")
    known_ids = [pid for pid in c.exclude_product_ids if pid in catalog.by_id]
    del c.exclude_product_ids[:]
    c.exclude_product_ids.extend(dict.fromkeys(known_ids))  # unknown ids exclude nothing; dedupe in order

    request.relaxations.extend(_relax(request, catalog))
    return request


def validate_request(request: optimization_pb2.OptimizationRequest, catalog: Catalog) -> list[str]:
    """Problems that make a request unfit for the optimizer; empty when it is valid."""
    problems: list[str] = []
    if not request.session_id:
        problems.append("session_id is empty")
    if not K_MIN <= request.k <= K_MAX:
        problems.append(f"k={request.k} outside [{K_MIN}, {K_MAX}]")
    if request.objective not in SUPPORTED_OBJECTIVES:
        problems.append(f"objective {request.objective} is not a supported objective")
    c, p = request.constraints, request.preferences
    for field in FIELDS:
        known = set(getattr(catalog, field.catalog_attr))
        for value in getattr(c, field.name):
            if value not in known:
                problems.append(f"constraints.{field.name}: {value!r} is not a catalog {field.noun}")
        for term in getattr(p, field.name):
            if term.value not in known:
                problems.append(f"preferences.{field.name}: {term.value!r} is not a catalog {field.noun}")
            if not 0 <= term.weight <= 1:
                problems.append(f"preferences.{field.name}: weight {term.weight:g} of {term.value!r} outside [0, 1]")
    for name in _PRICE:
        if c.HasField(name) and not getattr(c, name) > 0:
            problems.append(f"{name}={getattr(c, name):g} is not positive")
    if c.HasField("price_min") and c.HasField("price_max") and c.price_min > c.price_max:
        problems.append(f"price_min={c.price_min:g} > price_max={c.price_max:g}")
    if c.HasField("min_rating") and not 0 <= c.min_rating <= 5:
        problems.append(f"min_rating={c.min_rating:g} outside [0, 5]")
    if p.HasField("price_anchor") and not p.price_anchor > 0:
        problems.append(f"price_anchor={p.price_anchor:g} is not positive")
    unknown = [pid for pid in c.exclude_product_ids if pid not in catalog.by_id]
    if unknown:
        problems.append(f"exclude_product_ids not in catalog: {unknown[:5]}")
    for i, group in enumerate(c.at_least):
        if not 0 < group.count <= request.k:
            problems.append(f"at_least[{i}]: count={group.count} outside [1, k={request.k}]")
        for field in FIELDS:
            known = set(getattr(catalog, field.catalog_attr))
            problems.extend(f"at_least[{i}].{field.name}: {v!r} is not a catalog {field.noun}"
                            for v in getattr(group, field.name) if v not in known)
        lo = group.price_min if group.HasField("price_min") else 0.0
        hi = group.price_max if group.HasField("price_max") else math.inf
        if not (0 <= lo <= hi):  # also false for NaN
            problems.append(f"at_least[{i}]: price range {lo:g}..{hi:g} is not a range of prices")
        if group.HasField("min_rating") and not 0 <= group.min_rating <= 5:
            problems.append(f"at_least[{i}]: min_rating={group.min_rating:g} outside [0, 5]")
    if not problems:
        count = _candidates(catalog, c)
        if count < request.k:
            problems.append(f"only {count} candidates satisfy the constraints ({_describe(c)}), k={request.k}")
    return problems
