"""Hedges (Constraints.at_least) of the rules decomposer: where one or two views cannot tell the shopper's readings
apart (brand, colour, budget, a rating level), half the panel goes to each reading, each group near the viewed
prices. decompose (rules.py) decides when to hedge; these rules shape the groups."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.core.assortment.attraction import ORDER_QUANTILE, category_quantiles, rating_level, viewed_rows
from services.core.assortment.candidates import candidate_rows
from services.core.decompose.evidence import Explicit, View
from services.core.decompose.thresholds import (
    DEFAULT_K,
    HEDGE_RATING_QUANTILE,
    HEDGE_SHARE,
    MIN_RATING_CHANCE,
    MIN_RATING_SLACK,
    PRICE_BAND_MAX_RATIO,
)


def hedge_starved_budget(request: optimization_pb2.OptimizationRequest, catalog: Catalog, prices: list[float],
                         explicit: Explicit) -> None:
    """Rule: from one or two views, a brand and a colour hard together (one view's, or two views' "either" terms)
    may leave no product near the viewed prices: then no budget holding those prices could show any item, and so
    few views cannot tell the brand, the colour or the budget apart. When the half-panel of candidates nearest the
    viewed prices reaches beyond them by more than a budget spans (PRICE_BAND_MAX_RATIO), the brand and colour
    become hedges (half the panel each, as when they cannot fill it together) and the price hedge is taken over the
    product type. A stated brand or colour (filter, search) stays hard."""
    c, k = request.constraints, request.k or DEFAULT_K
    count = int(k * HEDGE_SHARE)
    if c.at_least or count < 1:
        return
    held = _held_from_views(c, explicit)
    if len(held) != 2:
        return
    rows = candidate_rows(catalog, c)
    if rows.size < count:
        return
    lo, hi = min(prices), max(prices)
    d = _nearest_distance(catalog.price[rows], lo, hi, count)
    if math.exp(2 * d) <= PRICE_BAND_MAX_RATIO:
        return
    values = _hedge_held(c, held, count)
    request.relaxations.add(constraint="brands", reason=(
        f"no {values['brands']} {values['colours']} product near the viewed prices (the nearest {count} reach "
        f"x{math.exp(2 * d):.2f} beyond them); brand, colour and budget hedged: at least "
        f"{count} of {k} items of each"))


def _held_from_views(c: optimization_pb2.Constraints, explicit: Explicit) -> list[str]:
    """The brand and colour constraints held hard from the views alone: none of their terms stated (filter, search)."""
    return [n for n in ("brands", "colours") if getattr(c, n) and not any(explicit.terms[n].values())]


def _hedge_held(c: optimization_pb2.Constraints, held: Sequence[str], count: int) -> dict[str, list[str]]:
    """Each of the `held` fields' hard values become a hedge (a group of at least `count` items holding them);
    returns the values so moved, by field."""
    values = {n: list(getattr(c, n)) for n in held}
    for n in held:
        del getattr(c, n)[:]
        getattr(c.at_least.add(count=count), n).extend(values[n])
    return values


def sorted_rating(request: optimization_pb2.OptimizationRequest, catalog: Catalog) -> float | None:
    """The rating the shopper asked for by sorting a listing by rating while the views since agree with it
    (Preferences.listing_order, set by the rules only then): the kept product type's top quarter, the level the
    MNL lean reads the sort as (attraction.ORDER_QUANTILE); the lowest over several kept types. None without such
    a sort or a kept type."""
    order = request.preferences.listing_order
    if order.order != summaries_pb2.SORT_ORDER_RATING_DESC or not order.weight > 0:
        return None
    tops = category_quantiles(catalog, "rating", 1 - ORDER_QUANTILE)
    levels = [tops[t] for t in request.constraints.categories if t in tops]
    return round(min(levels), 2) if levels else None


def yield_to_the_sorted_rating(request: optimization_pb2.OptimizationRequest, catalog: Catalog,
                               level: float | None, explicit: Explicit) -> None:
    """Rule: a sort by rating says what the shopper wants; a brand or colour held hard because one or two views
    share it is an inference. When the hard constraints leave fewer than half a panel of candidates rated at the sort's
    level, the panel could not show what the sort asked for: the inferred brand and colour become hedges (half the
    panel each) beside a group of half the panel rated at the level (held-out `top-rated-sort`: two cheap white
    watches made white hard, and three white watches are rated 4.6 or more; the panel fell to 0-1 of 8 well rated).
    A stated brand or colour (filter, search) stays hard; so does the sort's lean, which reorders within them."""
    c, k = request.constraints, request.k or DEFAULT_K
    count = int(k * HEDGE_SHARE)
    if level is None or count < 1:
        return
    held = _held_from_views(c, explicit)
    if not held:
        return
    rows = candidate_rows(catalog, c)
    rated = int((catalog.rating[rows] >= level).sum())
    if rated >= count:
        return
    values = _hedge_held(c, held, count)
    c.at_least.add(count=count, min_rating=level)
    request.relaxations.add(constraint=held[0], reason=(
        f"listing sorted by rating: only {rated} candidates rated {level:g}+ with {values}; "
        f"{' and '.join(held)} hedged beside the rating: at least {count} of {k} items of each"))


def hedged_rating(views: Sequence[View], type_ratings: Sequence[float]) -> float | None:
    """Rule: the rating one or two views agree on, for the hedges only. Too few views for a floor (the rating
    rule's MIN_RATING_MIN_VIEWS), but when every viewed product is rated so high for its type that opening only
    such products would be unlikely by chance (p ** n <= MIN_RATING_CHANCE, p the type's share rated at least the
    lowest viewed rating), the hedge groups keep to a rating (where it costs their price reading little, see
    _keep_to_the_rating): whichever of brand, colour or budget the shopper means, the group's items near the price
    are then well rated (held-out `top-rated-browse`: a first view rated 4.9, its hedges near the price filled with
    items rated 3.5-4.4)."""
    ratings = [v.rating for v in views if v.rating is not None]
    if not ratings or len(ratings) != len(views) or not len(type_ratings):
        return None
    low = min(ratings)
    p = sum(r >= low for r in type_ratings) / len(type_ratings)
    if p ** len(ratings) > MIN_RATING_CHANCE:
        return None
    # the type's upper quartile where the view is above it: a level the view shows, not the view's own rating
    # (kept to 4.8 after a 4.9, the groups' windows reached far from the viewed price: held-out `luxury-watches`)
    return round(min(low - MIN_RATING_SLACK, float(np.quantile(type_ratings, HEDGE_RATING_QUANTILE))), 2)


def hedge_price(request: optimization_pb2.OptimizationRequest, catalog: Catalog, prices: list[float],
                category: str | None = None, rating: float | None = None, sorted_level: float | None = None,
                views: Sequence[View] = (), terms: dict[str, list[str]] | None = None) -> None:
    """Rule: from fewer prices of the type than a budget needs, no budget is claimed, but a budget would hold the
    prices the shopper opened; so half the panel is the request's candidates nearest them in price (on a log
    scale; the narrowest window around the viewed prices holding that many): whatever the budget's width, the
    nearest products are the likeliest inside it. No fixed percentage: a dense price range gives a tight
    window, a sparse one a wide window.

    A rating the shopper asked for by sorting (`sorted_level`, see sorted_rating) is kept by every hedge group
    however far its rated items lie from the viewed prices: the sort is what the shopper said, the price a reading
    of one or two views (held-out `top-rated-sort`: a first view of a $78.50 watch, its hedges near the price held
    watches rated 3.4-4.5, 0 of 8 well rated, where the inferred `rating` keeps only to what costs the price little).
    `views` are the kept type's views: each brand or colour group lies near the prices of its own views, and the
    rated price group (or a half of the price window rated like the views above the type's median) goes before the
    groups fewer of them show (_near_the_prices, _rated_like_the_views, _yield_to_the_rating)."""
    k = request.k or DEFAULT_K
    count = int(k * HEDGE_SHARE)
    lo, hi = min(prices), max(prices)
    rows = candidate_rows(catalog, request.constraints)
    if category is not None:  # the window of one of the kept types, among its own brand and colour (`terms`)
        rows = rows[catalog.category[rows] == category]
        terms = _own_terms(catalog, rows, terms or {}, lo, hi, count)
        rows = rows[catalog.mask(**terms)[rows]]
    if count < 1 or rows.size < count:
        return
    stated = sorted_level is not None and category is None
    if stated:
        rating = sorted_level
    if category is None and rating is not None:
        _keep_to_the_rating(request, catalog, rows, rating, lo, hi, near=not stated)
    rated = rows[catalog.rating[rows] >= rating] if rating is not None and category is None else rows
    if not (rated.size >= count if stated else
            _rated_window_is_near(catalog.price[rows], catalog.price[rated], lo, hi, count)):
        rated, rating = rows, None
    d = _nearest_distance(catalog.price[rated], lo, hi, count)
    if category is None:
        _near_the_prices(request, catalog, rows, lo, hi, views)
    # not a relaxation (no hard constraint changes): the group itself is in the request, the optimizer says so
    group = request.constraints.at_least.add(count=count, price_min=round(lo * math.exp(-d), 2),
                                             price_max=round(hi * math.exp(d), 2))
    if rating is not None:
        group.min_rating = rating
        _yield_to_the_rating(request.constraints, views)
    if category is not None:
        group.categories.append(category)
        for field, values in (terms or {}).items():
            getattr(group, field).extend(values)
    elif _rated_like_the_views(request, catalog, rows, group):
        _yield_to_the_rating(request.constraints, views)


def _rated_like_the_views(request: optimization_pb2.OptimizationRequest, catalog: Catalog, rows: np.ndarray,
                          group: optimization_pb2.AtLeast) -> bool:
    """Rule: within the price group's window, its items rated at least the level the views show (the MNL's rating
    level) come first, as many as the window holds: the group is forced on the revenue objective, which then takes
    the window's least attractive items (they take the fewest choices from the dearer items), so the soft level works
    backwards inside it. The window stays: this costs the price reading nothing (draw 3 `rated-colour`: views rated
    4.3 and 4.8, the $25-45 group held the window's four items rated 3.6-4.1 and left its 4.8).

    Returns whether the price hedge is then a rated price group like hedged_rating's: its whole half rated at a level
    above the type's median. Views that all reach such a level agree on a rating fewer than half the type's items
    hold, so the rating outranks a brand or colour fewer of them show (_yield_to_the_rating); a level most items reach
    says nothing (draw 4 `top-rated-browse`: Larkspur purple $55 r4.5 then Gadsby brown $171 r4.9; the first view's
    brand and colour groups filled the panel with its items rated 2.9-4.6 and the 4.4+ group yielded, 2 of 8)."""
    if group.HasField("min_rating"):
        return False
    level = rating_level(catalog, viewed_rows(catalog, request))
    inside = rows[(catalog.price[rows] >= group.price_min) & (catalog.price[rows] <= group.price_max)]
    rated = int((catalog.rating[inside] >= level).sum()) if level is not None else 0
    if not 0 < rated < inside.size:
        return False
    request.constraints.at_least.add(count=min(rated, group.count), price_min=group.price_min,
                                     price_max=group.price_max, min_rating=round(level, 2))
    return rated >= group.count and level > float(np.median(catalog.rating[rows]))


def _yield_to_the_rating(c: optimization_pb2.Constraints, rated_by: Sequence[View]) -> None:
    """Rule: the price hedge kept to a rating every view in `rated_by` shows (the last groups, holding no brand or
    colour: the rated price group, or the price group and its items rated like the views) goes before the brand and
    colour groups fewer of those views show (the optimizer lowers the later groups first where they cannot all fit):
    two views that agree on a rating and not on a brand or colour say the rating more surely than the first view's
    brand or colour (draw 3 `top-rated-browse`: backpacks rated 4.8 and 4.7, Tavora green then Tundra purple; the
    Tavora and green groups filled the panel with items rated 3.8-4.4 and the rated price group yielded, 3 of 8 rated
    4.5+)."""
    def shown(g: optimization_pb2.AtLeast) -> int:
        return sum((not g.brands or v.brand in g.brands) and (not g.colours or v.colour in g.colours) for v in rated_by)

    groups = [optimization_pb2.AtLeast.FromString(g.SerializeToString()) for g in c.at_least]
    cut = len(groups) - 1
    while cut > 0 and not (groups[cut - 1].brands or groups[cut - 1].colours):
        cut -= 1
    before, price = groups[:cut], groups[cut:]
    weaker = [(g.brands or g.colours) and shown(g) < len(rated_by) for g in before]
    if not any(weaker):
        return
    del c.at_least[:]
    c.at_least.extend([g for g, w in zip(before, weaker, strict=True) if not w] + price
                      + [g for g, w in zip(before, weaker, strict=True) if w])


def _keep_to_the_rating(request: optimization_pb2.OptimizationRequest, catalog: Catalog, rows: np.ndarray,
                        rating: float, lo: float, hi: float, near: bool = True) -> None:
    """Each brand or colour hedge group keeps to `rating` (or, short of such items, to its own count-th best
    rating while above the type's median) where that costs its price reading little: its nearest window among
    the rated items reaches beyond the viewed prices at most sqrt(PRICE_BAND_MAX_RATIO) further than among all
    its items (kept to a rating far from the price, held-out `luxury-watches` saw $121-398 for a $642 watch).
    `near=False` (a rating the shopper sorted by) keeps to it wherever the rated items lie."""
    median = float(np.median(catalog.rating[rows]))
    for group in request.constraints.at_least:
        if not (group.brands or group.colours) or group.HasField("min_rating"):
            continue
        keep = catalog.mask(brands=list(group.brands), colours=list(group.colours))[rows]
        ratings = catalog.rating[rows[keep]]
        if ratings.size < group.count:
            continue
        level = min(rating, float(np.sort(ratings)[::-1][group.count - 1]))
        prices = catalog.price[rows[keep]]
        if level > median and (not near or _rated_window_is_near(prices, prices[ratings >= level], lo, hi,
                                                                   group.count)):
            group.min_rating = level


def _own_terms(catalog: Catalog, rows: np.ndarray, terms: dict[str, list[str]], lo: float, hi: float,
               count: int) -> dict[str, list[str]]:
    """The brand and colour a type's hedge group keeps to: both while their items stay near the viewed prices, else
    the first of them with enough items (one view cannot tell which the shopper follows; both together, few and far,
    held a Yardley navy headphone half at $99-1898 for a $433 view: held-out draw 4 `intent-cheap-to-luxury`), else
    neither."""
    def own(keep: dict[str, list[str]]) -> np.ndarray:
        return catalog.price[rows[catalog.mask(**keep)[rows]]]

    if len(terms) > 1 and _rated_window_is_near(catalog.price[rows], own(terms), lo, hi, count):
        return terms
    return next(({f: v} for f, v in terms.items() if own({f: v}).size >= count), {})


def _rated_window_is_near(prices: np.ndarray, rated: np.ndarray, lo: float, hi: float, count: int) -> bool:
    """Whether the narrowest window holding `count` of the `rated` prices reaches beyond [lo, hi] at most
    sqrt(PRICE_BAND_MAX_RATIO) further than the one over all `prices` (so the rating costs the budget little)."""
    if rated.size < count:
        return False
    extra = _nearest_distance(rated, lo, hi, count) - _nearest_distance(prices, lo, hi, count)
    return math.exp(2 * extra) <= PRICE_BAND_MAX_RATIO


def _near_the_prices(request: optimization_pb2.OptimizationRequest, catalog: Catalog, rows: np.ndarray,
                     lo: float, hi: float, views: Sequence[View] = ()) -> None:
    """Rule: while the budget is hedged too, each brand or colour hedge takes its own items nearest the viewed
    prices (the narrowest window holding its count), not whatever revenue picks (the group's dearest items): a
    shopper who wants the brand is served as well by its items near the price, and a shopper who wants a budget
    holding the viewed price then finds some of it in every group. Before, three hedges that overlapped little
    could not all fit: the price group, listed last, yielded to 0-3 of 8 while the brand and colour groups filled
    the panel at two to five times the viewed price (held-out `any-band-search`, `noisy-band`,
    `intent-cheap-to-luxury`). The prices are those of the `views` showing the group's brand or colour, when
    any: a glance off the kept reading says nothing of its budget (held-out draw 3 `noisy-band`: a $297 Juniper,
    then a $190 glance; the Juniper half spread over $190-297, 2 of 8 in the $270-305 band)."""
    for group in request.constraints.at_least:
        if not (group.brands or group.colours) or group.HasField("price_min") or group.HasField("price_max"):
            continue
        keep = catalog.mask(brands=list(group.brands), colours=list(group.colours),
                            min_rating=group.min_rating if group.HasField("min_rating") else None)[rows]
        prices = catalog.price[rows[keep]]
        if prices.size <= group.count:
            continue
        own = [v.price for v in views if v.price > 0 and (v.brand in group.brands or v.colour in group.colours)]
        glo, ghi = (min(own), max(own)) if own else (lo, hi)
        d = _nearest_distance(prices, glo, ghi, group.count)
        group.price_min, group.price_max = round(glo * math.exp(-d), 2), round(ghi * math.exp(d), 2)


def _nearest_distance(scope: np.ndarray, lo: float, hi: float, count: int) -> float:
    """How far (in log price) beyond [lo, hi] the narrowest window holding `count` of the prices `scope` reaches."""
    distance = np.maximum(np.maximum(np.log(lo / scope), np.log(scope / hi)), 0.0)
    return float(np.sort(distance)[count - 1])
