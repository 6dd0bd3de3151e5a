"""Price and rating habits of the rules decomposer: with the product type settled, the budget (a band of close prices,
or one end of the type's prices) and the rating floor its views read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.common.catalog import Catalog
from services.core.decompose.evidence import View
from services.core.decompose.thresholds import (
    MIN_RATING_CHANCE,
    MIN_RATING_MIN_VIEWS,
    MIN_RATING_OUTLIER_SHARE,
    MIN_RATING_SLACK,
    PRICE_BAND_CHANCE,
    PRICE_BAND_MAX_RATIO,
    PRICE_BAND_MIN_SHARE,
    PRICE_BAND_MIN_VIEWS,
    PRICE_END_SHARE,
)


@dataclass(frozen=True)
class Habits:
    """What the views of the kept product types say beside brand and colour: their prices, budget and rating floor."""

    relevant: list[View]  # the views of the kept types (all views without one)
    prices: list[float]
    scope: object  # catalog mask of the kept types, None without one
    band: tuple[float | None, float | None] | None  # an end budget leaves one side open (None)
    floor: float | None

    def hold(self, view: View) -> bool | None:
        """Whether `view` fits the budget and rating floor read off the views; None when they read neither."""
        if self.band is None and self.floor is None:
            return None
        lo, hi = self.band or (None, None)
        return ((lo is None or view.price >= lo) and (hi is None or view.price <= hi)
                and (self.floor is None or (view.rating or 0.0) >= self.floor))


def habits_of(views: list[View], cats: set[str], catalog: Catalog) -> Habits:
    """Price and rating habits belong to the product type: with the type settled, read them off its views only
    (after an intent change, the old type's prices say nothing about the new budget)."""
    relevant = [v for v in views if not cats or v.category in cats] or views
    prices = [v.price for v in relevant if v.price > 0]
    scope = catalog.mask(categories=sorted(cats)) if cats else None
    band = _price_band(prices, catalog.price[scope] if scope is not None else catalog.price)
    if band is None and scope is not None:
        band = _end_budget(prices, catalog.price[scope])
    floor = _rating_floor(relevant, list(catalog.rating[_chosen_among(relevant, cats, catalog)]))
    return Habits(relevant, prices, scope, band, floor)


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


def _end_budget(prices: list[float], type_prices: Sequence[float]) -> tuple[float | None, float | None] | None:
    """Rule: views too far apart for a band that all lie in one end of their type's prices (its cheapest or dearest
    PRICE_END_SHARE) say "cheap" or "dear": a one-sided budget, no dearer (cheaper) than the views; the relaxation
    widens it when too few products fit. From PRICE_BAND_MIN_VIEWS views, so many landing in either end by chance is
    unlikely (2 * 0.25^3 = 3 %, below PRICE_BAND_CHANCE). Three cookware views at $15-30.50, all in the type's
    cheapest quarter, made no band (x2 apart), and the panel showed black cookware at $43-272 (held-out draw 4)."""
    prices = sorted(p for p in prices if p > 0)
    scope = [p for p in type_prices if p > 0]
    if len(prices) < PRICE_BAND_MIN_VIEWS or not scope:  # fewer views are hedged near their prices (hedge_price)
        return None
    lo, hi = prices[0], prices[-1]
    if sum(p <= hi for p in scope) <= PRICE_END_SHARE * len(scope):
        return None, hi
    if sum(p >= lo for p in scope) <= PRICE_END_SHARE * len(scope):
        return lo, None
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
