"""The MNL model, documented in one place: each candidate's attraction v_i and revenue per choice r_i.

Attraction v_i = exp(u_i) * theta_i against a no-purchase weight V0, with utility

    u_i = BASE_UTILITY
        + RATING_COEF   * (rating_i - RATING_REF)                      rating
        + REVIEWS_COEF  * (log(1 + reviews_i) - log(1 + REVIEWS_REF))  popularity (social proof)
        - PRICE_COEF    * log(price_i / median price of its category)  price sensitivity
        + BRAND_COEF    * brand weight    + CATEGORY_COEF * type weight
        + COLOUR_COEF   * colour weight   + BOOST_COEF    * business-rule boost   (soft preferences, 0..1)
        - ANCHOR_COEF   * |log(price_i / price anchor)|                the price level the shopper views
        + SESSION_COEF  * max_j sim(i, viewed product j)               session re-ranking (InteraRec v2)
        - LEVEL_COEF    * max(0, rating level - rating_i)              the rating level the shopper views
        - ORDER_RATING_COEF * w * max(0, top rating - rating_i)        a listing sorted by rating (lean w)
        - ORDER_PRICE_COEF  * w * max(0, log(price_i / low price))     ... sorted by price, lowest first
        - ORDER_PRICE_COEF  * w * max(0, log(high price / price_i))    ... sorted by price, highest first

The rating level is the lowest rating among the viewed products, less LEVEL_SLACK: a shopper who has only
opened products rated 4.3 and up is unlikely to want one rated 3.4, whether or not enough views exist yet to
call it a habit (the decomposer's hard rating floor needs a chance test over several views). Revenue
maximisation otherwise fills the panel with whatever is dearest near the price anchor, however badly rated.

The listing order is the sort the shopper chose on a listing (Preferences.listing_order, its lean w 0..1 set by the
decomposer as the views since agree with it). A sort by rating shows a product type's best rated first, so a candidate
rated below its type's top quarter (ORDER_QUANTILE; the type's, not the candidates': a colour held hard leaves
candidates whose top quarter is no longer well rated) is penalised per star as under the rating level; a sort by price
favours the cheapest (or dearest) quarter of the type, per e-fold of price beyond it, strongly enough to outweigh the
revenue objective's pull towards dear items (r_i grows by one e-fold too).

sim(i, j) = 0.5 [same category] + 0.3 [same brand] + 0.2 [same colour], times exp(-|log(price_i/price_j)|):
closeness to what this session actually looked at. theta_i is the learned feedback term (feedback.py): a
multiplier from clicks against the model's own predictions, 1 when nothing has been learned.

Revenue per choice r_i by objective: price (expected revenue), price x margin (expected margin), 1
(purchase probability), or revenue_weight x price + (1 - revenue_weight) x P, where P is the median
candidate price, so a unit of purchase probability is worth a typical sale (blend).
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog

# Calibration: with V0 = 1, a typical product has v ~ exp(-3.4) ~ 0.033, so an 8-item assortment of
# typical products leaves a no-purchase probability ~ 0.75 (realistic for a recommendation panel), and
# a strongly preferred one ~ 0.5. Small weights also keep the revenue threshold low, so K is mostly filled.
V0 = 1.0
BASE_UTILITY = -3.4  # sets the overall purchase propensity (see calibration above)
RATING_COEF = 0.35  # per star above RATING_REF: better-rated products sell more, but ratings cluster at 4-5
RATING_REF = 4.0  # typical catalog rating, so an average product gets no bonus
REVIEWS_COEF = 0.08  # per e-fold of review count: social proof with diminishing returns
REVIEWS_REF = 100.0  # a typical review count gets no bonus
PRICE_COEF = 0.3  # per e-fold of price above its category median: dearer products sell less (kept mild;
#                   revenue maximisation still leans towards expensive items, as it should)
BRAND_COEF = 1.0  # per unit of brand preference weight: brand is the strongest on-screen signal
CATEGORY_COEF = 0.8  # per unit of category weight: the product type being browsed
COLOUR_COEF = 0.5  # per unit of colour weight: a weaker, often incidental signal
BOOST_COEF = 1.0  # per unit of business-rule boost: as strong as a full brand preference
ANCHOR_COEF = 0.8  # per e-fold of distance from the price anchor: shoppers favour their viewed price level
SESSION_COEF = 0.6  # per unit of similarity to a viewed product: "more like what I just looked at"
SIM_CATEGORY, SIM_BRAND, SIM_COLOUR = 0.5, 0.3, 0.2
LEVEL_COEF = 4.0  # per star below the viewed rating level: half a star below weighs exp(-2) ~ 0.14
LEVEL_SLACK = 0.1  # a near-twin of the lowest viewed rating is not below the level (as the hard floor's slack)
ORDER_QUANTILE = 0.25  # a sorted listing's first screens: its type's best rated / cheapest / dearest quarter
ORDER_RATING_COEF = LEVEL_COEF  # per star below that quarter's rating, at full lean
ORDER_PRICE_COEF = 2.5  # per e-fold of price beyond that quarter's price, at full lean: > 1 outweighs revenue


def _term_lookup(terms) -> dict[str, float]:
    lookup: dict[str, float] = {}
    for term in terms:
        key = term.value.strip().casefold()
        if key:
            lookup[key] = max(lookup.get(key, 0.0), min(max(float(term.weight), 0.0), 1.0))
    return lookup


def term_weights(values: np.ndarray, terms) -> np.ndarray:
    """Per-product weight of the matching preference term (case-insensitive), clipped to [0, 1]."""
    lookup = _term_lookup(terms)
    if not lookup:
        return np.zeros(values.size)
    return np.array([lookup.get(str(x).casefold(), 0.0) for x in values], dtype=float)


_MEDIAN_PRICE: weakref.WeakKeyDictionary[Catalog, np.ndarray] = weakref.WeakKeyDictionary()


def category_median_price(catalog: Catalog) -> np.ndarray:
    """Median price of each product's category (cached: catalogs are immutable)."""
    cached = _MEDIAN_PRICE.get(catalog)
    if cached is None:
        cached = np.empty(len(catalog))
        for cat in catalog.categories:
            sel = catalog.category == cat
            cached[sel] = np.median(catalog.price[sel])
        _MEDIAN_PRICE[catalog] = cached
    return cached


def revenue_per_choice(catalog: Catalog, idx: np.ndarray, objective: int, revenue_weight: float = 0.5) -> np.ndarray:
    price = catalog.price[idx]
    if objective in (optimization_pb2.OBJECTIVE_EXPECTED_REVENUE, optimization_pb2.OBJECTIVE_UNSPECIFIED):
        return price.copy()
    if objective == optimization_pb2.OBJECTIVE_EXPECTED_MARGIN:
        return price * catalog.margin[idx]
    if objective == optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY:
        return np.ones(idx.size)
    if objective == optimization_pb2.OBJECTIVE_BLEND:
        if not 0.0 <= revenue_weight <= 1.0:
            raise ValueError(f"revenue_weight must be within 0..1 for the blend objective, got {revenue_weight}")
        scale = float(np.median(price)) if price.size else 1.0
        return revenue_weight * price + (1.0 - revenue_weight) * scale
    raise ValueError(f"unknown objective {objective}")


def session_similarity(catalog: Catalog, idx: np.ndarray, viewed_rows: np.ndarray) -> np.ndarray:
    """max_j sim(i, j) over the viewed products j (0 when nothing was viewed)."""
    best = np.zeros(idx.size)
    for j in np.asarray(viewed_rows, dtype=int).tolist()[:20]:  # a window views a handful; cap the work
        sim = (SIM_CATEGORY * (catalog.category[idx] == catalog.category[j])
               + SIM_BRAND * (catalog.brand[idx] == catalog.brand[j])
               + SIM_COLOUR * (catalog.colour[idx] == catalog.colour[j]))
        sim = sim * np.exp(-np.abs(np.log(catalog.price[idx] / catalog.price[j])))
        np.maximum(best, sim, out=best)
    return best


def rating_level(catalog: Catalog, viewed_rows: np.ndarray) -> float | None:
    """The lowest rating among the viewed products less LEVEL_SLACK; None when nothing was viewed."""
    rows = np.asarray(viewed_rows, dtype=int)
    return float(catalog.rating[rows].min()) - LEVEL_SLACK if rows.size else None


def viewed_rows(catalog: Catalog, request: optimization_pb2.OptimizationRequest) -> np.ndarray:
    return np.array([catalog.index[v.product_id] for v in request.summary.viewed_products
                     if v.product_id in catalog.index], dtype=int)


def attraction(catalog: Catalog, idx: np.ndarray, preferences: optimization_pb2.Preferences,
               viewed: np.ndarray | None = None, learned: np.ndarray | None = None) -> np.ndarray:
    """v_i for the catalog rows `idx` (see the module docstring). `learned` is theta per catalog row."""
    idx = np.asarray(idx, dtype=int)
    price = catalog.price[idx]
    u = (
        BASE_UTILITY
        + RATING_COEF * (catalog.rating[idx] - RATING_REF)
        + REVIEWS_COEF * (np.log1p(catalog.review_count[idx]) - math.log1p(REVIEWS_REF))
        - PRICE_COEF * np.log(price / category_median_price(catalog)[idx])
        + BRAND_COEF * term_weights(catalog.brand[idx], preferences.brands)
        + CATEGORY_COEF * term_weights(catalog.category[idx], preferences.categories)
        + COLOUR_COEF * term_weights(catalog.colour[idx], preferences.colours)
    )
    if preferences.boost_product_ids:
        ids = np.array([catalog.products[i].product_id for i in idx.tolist()], dtype=object)
        u = u + BOOST_COEF * term_weights(ids, preferences.boost_product_ids)
    if preferences.HasField("price_anchor") and preferences.price_anchor > 0:
        u = u - ANCHOR_COEF * np.abs(np.log(price / preferences.price_anchor))
    if viewed is not None and len(viewed):
        u = u + SESSION_COEF * session_similarity(catalog, idx, viewed)
        level = rating_level(catalog, viewed)
        u = u - LEVEL_COEF * np.maximum(level - catalog.rating[idx], 0.0)
    if preferences.HasField("listing_order"):
        u = u - order_lean(catalog, idx, preferences.listing_order)
    v = np.exp(u)
    if learned is not None:
        v = v * learned[idx]
    return v


def order_lean(catalog: Catalog, idx: np.ndarray, order: optimization_pb2.OrderPreference) -> np.ndarray:
    """The utility each candidate loses to a listing order's lean (0 for an order without one)."""
    w = min(max(float(order.weight), 0.0), 1.0)
    if not w or not idx.size:
        return np.zeros(idx.size)
    if order.order == summaries_pb2.SORT_ORDER_RATING_DESC:
        top = category_quantile(catalog, "rating", 1 - ORDER_QUANTILE)[idx]
        return ORDER_RATING_COEF * w * np.maximum(top - catalog.rating[idx], 0.0)
    log_price = np.log(catalog.price[idx])
    if order.order == summaries_pb2.SORT_ORDER_PRICE_ASC:
        low = np.log(category_quantile(catalog, "price", ORDER_QUANTILE)[idx])
        return ORDER_PRICE_COEF * w * np.maximum(log_price - low, 0.0)
    if order.order == summaries_pb2.SORT_ORDER_PRICE_DESC:
        high = np.log(category_quantile(catalog, "price", 1 - ORDER_QUANTILE)[idx])
        return ORDER_PRICE_COEF * w * np.maximum(high - log_price, 0.0)
    return np.zeros(idx.size)


_QUANTILES: weakref.WeakKeyDictionary[Catalog, dict[tuple, dict[str, float] | np.ndarray]] = \
    weakref.WeakKeyDictionary()


def category_quantiles(catalog: Catalog, column: str, q: float) -> dict[str, float]:
    """Per category, the q-quantile of its products' `column` (rating or price), cached: catalogs are immutable."""
    cached = _QUANTILES.setdefault(catalog, {})
    if (column, q) not in cached:
        values = getattr(catalog, column)
        cached[(column, q)] = {cat: float(np.quantile(values[catalog.category == cat], q))
                               for cat in catalog.categories}
    return cached[(column, q)]  # type: ignore[return-value]


def category_quantile(catalog: Catalog, column: str, q: float) -> np.ndarray:
    """Per product, the q-quantile of its category's `column`: the sorted listing of its type (cached)."""
    cached = _QUANTILES.setdefault(catalog, {})
    if (column, q, "per product") not in cached:
        out = np.empty(len(catalog))
        for cat, value in category_quantiles(catalog, column, q).items():
            out[catalog.category == cat] = value
        cached[(column, q, "per product")] = out
    return cached[(column, q, "per product")]  # type: ignore[return-value]


def utilities(catalog: Catalog, candidate_idx: np.ndarray, preferences: optimization_pb2.Preferences,
              objective: int = optimization_pb2.OBJECTIVE_EXPECTED_REVENUE, revenue_weight: float = 0.5,
              viewed: np.ndarray | None = None, learned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Revenue per choice r_i and MNL weight v_i of each candidate (v0 = V0)."""
    idx = np.asarray(candidate_idx, dtype=int)
    return (revenue_per_choice(catalog, idx, objective, revenue_weight),
            attraction(catalog, idx, preferences, viewed, learned))


def matched_preferences(catalog: Catalog, row: int, preferences: optimization_pb2.Preferences,
                        viewed: np.ndarray | None = None) -> list[str]:
    """The soft preferences product `row` matches, in words (for its reason)."""
    p = catalog.products[row]
    out = []
    for label, value, terms in (("type", p.category, preferences.categories), ("brand", p.brand, preferences.brands),
                                ("colour", p.colour, preferences.colours)):
        if _term_lookup(terms).get(value.casefold(), 0.0) > 0:
            out.append(f"{label} {value}")
    if _term_lookup(preferences.boost_product_ids).get(p.product_id.casefold(), 0.0) > 0:
        out.append("boosted by a business rule")
    if preferences.HasField("price_anchor") and preferences.price_anchor > 0:
        if abs(math.log(p.price / preferences.price_anchor)) <= math.log(1.5):
            out.append(f"price near ${preferences.price_anchor:,.0f}")
    if viewed is not None and len(viewed):
        sim = float(session_similarity(catalog, np.array([row]), viewed)[0])
        if sim >= 0.4:
            out.append("similar to products viewed this session")
    return out
