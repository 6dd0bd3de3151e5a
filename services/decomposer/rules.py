"""The "rules" decomposer backend: BehaviourSummary -> validated OptimizationRequest, no LLM.

Summary weights are shares of grounded product views (0..1). Strong, repeated signals become hard
constraints; everything else becomes soft MNL preferences, which only re-weight candidates. The rules
are deliberately conservative: a wrong hard constraint hides what the shopper wants, a missing one only
makes the ranking a little less sharp.

`repair_request` is the backend-independent half (grounding, bounds, contradiction relaxation) and is
also meant for the vllm backend; `validate_request` lists what is still wrong with a request.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog

BACKEND = "rules"
K_MIN, K_MAX = 1, 50  # K_MAX: a recommendation panel never shows more; keeps the optimizer fast
DEFAULT_K = 8

# Hard-constraint rules (brand, category, colour alike).
HARD_TERM_WEIGHT = 0.5  # at least half of the grounded views share the term: a clear focus
HARD_TERM_MIN_VIEWS = 2  # and it was seen on two or more products, not one lingering glance
COMPANION_TERM_WEIGHT = 0.3  # once a term is hard, keep strong runners-up so "A or B" shoppers lose neither

# Price band rule.
PRICE_BAND_MIN_VIEWS = 3  # need a few prices before claiming a budget
PRICE_BAND_MAX_RATIO = 1.6  # high/low within the band: the prices must look like one budget
PRICE_BAND_MIN_SHARE = 2 / 3  # the band must hold most views, so one outlier view neither makes nor breaks it
PRICE_BAND_MARGIN = 0.15  # widen each side: the shopper's budget is fuzzier than the few prices seen
PRICE_WIDEN_FACTOR = 2.0  # relaxation step: halve the lower bound, double the upper bound

# Rating rule.
MIN_RATING_TRIGGER = 4.0  # every viewed product rated at least this: the shopper filters on quality
MIN_RATING_MIN_VIEWS = 3  # fewer views than this say nothing about a rating habit
MIN_RATING_VALUE = 3.8  # a little below the trigger, so a 3.9-star near-twin stays in

COLOUR_SYNONYMS = {"gray": "grey", "grey": "gray"}  # spelling variants an MLLM may read off a page


# --- grounding --------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.casefold()).strip()


def _singular(key: str) -> str:
    return key[:-1] if key.endswith("s") and not key.endswith("ss") else key


class _Grounder:
    """Maps free text onto the catalog's spelling: exact (normalised) match, then singular/plural."""

    def __init__(self, known: Iterable[str], synonyms: dict[str, str] | None = None):
        self.exact: dict[str, str] = {}
        self.loose: dict[str, str] = {}
        for value in known:
            self.exact.setdefault(_norm(value), value)
            self.loose.setdefault(_singular(_norm(value)), value)
        self.synonyms = synonyms or {}

    def __call__(self, text: str) -> str | None:
        key = _norm(text)
        if not key:
            return None
        for candidate in (key, self.synonyms.get(key)):
            if candidate and candidate in self.exact:
                return self.exact[candidate]
        return self.loose.get(_singular(key))


@dataclass(frozen=True)
class _Field:
    name: str  # Constraints / Preferences field name
    noun: str  # for messages
    catalog_attr: str  # Catalog property listing known values


FIELDS = (
    _Field("brands", "brand", "brands"),
    _Field("categories", "category", "categories"),
    _Field("colours", "colour", "colours"),
)


def _grounder(catalog: Catalog, field: _Field) -> _Grounder:
    synonyms = COLOUR_SYNONYMS if field.name == "colours" else None
    return _Grounder(getattr(catalog, field.catalog_attr), synonyms)


@dataclass(frozen=True)
class _View:
    product_id: str | None  # None when the product is not in the catalog
    brand: str
    category: str
    colour: str
    price: float  # 0 when unknown
    rating: float | None  # catalog rating; None when not grounded


def _views(summary: summaries_pb2.BehaviourSummary, catalog: Catalog) -> list[_View]:
    """Viewed products, with catalog attributes when the id is grounded (they beat what was read off
    a screenshot); duplicates of one product count once."""
    views: list[_View] = []
    seen: set[str] = set()
    for vp in summary.viewed_products:
        product = catalog.by_id.get(vp.product_id)
        if product is not None:
            if product.product_id in seen:
                continue
            seen.add(product.product_id)
            views.append(_View(product.product_id, product.brand, product.category, product.colour,
                               product.price, product.rating))
        elif vp.brand or vp.category or vp.colour or vp.price > 0:
            views.append(_View(None, vp.brand, vp.category, vp.colour, max(vp.price, 0.0), None))
    return views


def _terms(
    summary_terms: Sequence[summaries_pb2.WeightedTerm],
    views: list[_View],
    attr: str,
    ground: _Grounder,
    field: _Field,
    relaxations: list[optimization_pb2.Relaxation],
) -> dict[str, float]:
    """Grounded term -> weight. Summary weights win; when the summary gives none, derive view shares."""
    raw: list[tuple[str, float]] = [(t.value, t.weight) for t in summary_terms if t.value.strip()]
    if not raw and views:
        counts: dict[str, int] = {}
        for view in views:
            value = getattr(view, attr)
            if value:
                counts[value] = counts.get(value, 0) + 1
        raw = [(value, count / len(views)) for value, count in counts.items()]
    out: dict[str, float] = {}
    for value, weight in raw:
        canonical = ground(value)
        if canonical is None:
            relaxations.append(optimization_pb2.Relaxation(
                constraint=field.name, reason=f"not in catalog: {field.noun} {value!r} (weight {weight:.2f})"))
            continue
        out[canonical] = max(out.get(canonical, 0.0), min(max(float(weight), 0.0), 1.0))
    return out


def _hard_terms(terms: dict[str, float], views: list[_View], attr: str, ground: _Grounder) -> list[str]:
    """Rule: a term with weight >= HARD_TERM_WEIGHT seen on >= HARD_TERM_MIN_VIEWS viewed products becomes
    hard; then companions with weight >= COMPANION_TERM_WEIGHT join it. Strongest first."""
    backing: dict[str, int] = {}
    for view in views:
        canonical = ground(getattr(view, attr)) if getattr(view, attr) else None
        if canonical is not None:
            backing[canonical] = backing.get(canonical, 0) + 1
    primary = [t for t, w in terms.items() if w >= HARD_TERM_WEIGHT and backing.get(t, 0) >= HARD_TERM_MIN_VIEWS]
    if not primary:
        return []
    chosen = set(primary) | {t for t, w in terms.items() if w >= COMPANION_TERM_WEIGHT}
    return sorted(chosen, key=lambda t: (-terms[t], t))


def _price_band(prices: list[float]) -> tuple[float, float] | None:
    """Rule: the tightest run of sorted viewed prices that holds >= PRICE_BAND_MIN_VIEWS prices and
    >= PRICE_BAND_MIN_SHARE of them, if its high/low <= PRICE_BAND_MAX_RATIO; widened by PRICE_BAND_MARGIN.
    Tightest, not widest: one stray view must not stretch the shopper's budget."""
    prices = sorted(p for p in prices if p > 0)
    need = max(PRICE_BAND_MIN_VIEWS, math.ceil(PRICE_BAND_MIN_SHARE * len(prices) - 1e-9))
    if len(prices) < need:
        return None
    # strict <: on ties the cheaper band wins, deterministically
    lo = min(range(len(prices) - need + 1), key=lambda i: (prices[i + need - 1] / prices[i], i))
    hi = lo + need - 1
    if prices[hi] > prices[lo] * PRICE_BAND_MAX_RATIO:
        return None
    return round(prices[lo] * (1 - PRICE_BAND_MARGIN), 2), round(prices[hi] * (1 + PRICE_BAND_MARGIN), 2)


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
    relaxations: list[optimization_pb2.Relaxation] = []
    views = _views(summary, catalog)

    sources = {"brands": summary.brands, "categories": summary.product_types, "colours": summary.colours}
    attrs = {"brands": "brand", "categories": "category", "colours": "colour"}
    for field in FIELDS:
        ground = _grounder(catalog, field)
        terms = _terms(sources[field.name], views, attrs[field.name], ground, field, relaxations)
        getattr(request.constraints, field.name).extend(_hard_terms(terms, views, attrs[field.name], ground))
        # All grounded terms stay soft preferences too: within a multi-term hard constraint they still
        # rank the stronger term first.
        for value, weight in sorted(terms.items(), key=lambda kv: (-kv[1], kv[0])):
            getattr(request.preferences, field.name).add(value=value, weight=weight)

    prices = [v.price for v in views if v.price > 0]
    band = _price_band(prices)
    if band is not None:
        request.constraints.price_min, request.constraints.price_max = band
    if prices:
        request.preferences.price_anchor = float(statistics.median(prices))
    elif 0 < summary.price_range.low <= summary.price_range.high:
        # no views, but a price range was on screen (e.g. a filter): its geometric middle is the anchor
        request.preferences.price_anchor = (summary.price_range.low * summary.price_range.high) ** 0.5

    # Rule: every viewed product (at least MIN_RATING_MIN_VIEWS, all grounded so ratings are known)
    # rated >= MIN_RATING_TRIGGER -> the shopper sticks to well-rated products.
    ratings = [v.rating for v in views if v.rating is not None]
    if len(ratings) >= MIN_RATING_MIN_VIEWS and len(ratings) == len(views) and min(ratings) >= MIN_RATING_TRIGGER:
        request.constraints.min_rating = MIN_RATING_VALUE

    # Rule: the shopper has already seen these; recommending them again wastes panel slots.
    request.constraints.exclude_product_ids.extend(v.product_id for v in views if v.product_id is not None)

    request.relaxations.extend(relaxations)
    return repair_request(request, catalog)


def _candidates(catalog: Catalog, c: optimization_pb2.Constraints) -> int:
    return int(catalog.mask(
        categories=list(c.categories), brands=list(c.brands), colours=list(c.colours),
        price_min=c.price_min if c.HasField("price_min") else None,
        price_max=c.price_max if c.HasField("price_max") else None,
        min_rating=c.min_rating if c.HasField("min_rating") else None,
        exclude_ids=list(c.exclude_product_ids),
    ).sum())


def _describe(c: optimization_pb2.Constraints) -> str:
    parts = [f"{f.name}={list(getattr(c, f.name))}" for f in FIELDS if getattr(c, f.name)]
    if c.HasField("price_min") or c.HasField("price_max"):
        lo = f"{c.price_min:g}" if c.HasField("price_min") else ""
        hi = f"{c.price_max:g}" if c.HasField("price_max") else ""
        parts.append(f"price={lo}..{hi}")
    if c.HasField("min_rating"):
        parts.append(f"min_rating={c.min_rating:g}")
    return ", ".join(parts) or "no constraints"


_PRICE = ("price_min", "price_max")


def _snapshot(c: optimization_pb2.Constraints, fields: Sequence[str]) -> tuple:
    out = []
    for name in fields:
        if name in ("brands", "categories", "colours"):
            out.append(tuple(getattr(c, name)))
        else:
            out.append(getattr(c, name) if c.HasField(name) else None)
    return tuple(out)


def _restore(c: optimization_pb2.Constraints, fields: Sequence[str], values: tuple) -> None:
    for name, value in zip(fields, values, strict=True):
        if name in ("brands", "categories", "colours"):
            del getattr(c, name)[:]
            getattr(c, name).extend(value)
        elif value is None:
            c.ClearField(name)
        else:
            setattr(c, name, value)


def _widen_price(c: optimization_pb2.Constraints) -> None:
    if c.HasField("price_min"):
        c.price_min = round(c.price_min / PRICE_WIDEN_FACTOR, 2)
    if c.HasField("price_max"):
        c.price_max = round(c.price_max * PRICE_WIDEN_FACTOR, 2)


# Relaxation is a greedy build-up: start from no hard constraint, then add the constraints back one at a
# time, most important first, each at its strictest level that still leaves >= k candidates, else not at
# all. Importance is support (the share of viewed products consistent with the constraint) times a weight
# per kind, so a brand seen on half the views yields to a colour seen on nearly all, while an incidental
# colour yields to the product type. The rating habit always comes last (derived, least informative).
RELAX_IMPORTANCE = {
    "colours": 1.0,     # often incidental to what the shopper is after
    "price_band": 1.0,  # a budget inferred from a few prices
    "brands": 1.5,      # the signal shoppers act on most, after the product type
    "categories": 2.0,  # the product type itself
}
_RELAXABLE = ("categories", "brands", "colours", "price_band")  # tie order: earlier is kept first


def _support(request: optimization_pb2.OptimizationRequest, name: str) -> float:
    """Share of the viewed products consistent with a hard constraint (1.0 when views are unknown)."""
    c, viewed = request.constraints, request.summary.viewed_products
    if not viewed:
        return 1.0
    if name == "price_band":
        lo = c.price_min if c.HasField("price_min") else 0.0
        hi = c.price_max if c.HasField("price_max") else float("inf")
        return sum(lo <= v.price <= hi for v in viewed) / len(viewed)
    field = {"colours": "colour", "categories": "category", "brands": "brand"}[name]
    allowed = {_norm(x) for x in getattr(c, name)}
    return sum(_norm(getattr(v, field)) in allowed for v in viewed) / len(viewed)


def _levels(name: str, c: optimization_pb2.Constraints) -> list[tuple[str, tuple]]:
    """The constraint's settings from strictest to loosest, as (how, snapshot); loosest is 'absent'."""
    if name == "price_band":
        band = _snapshot(c, _PRICE)
        wide = tuple(None if v is None else round(v / PRICE_WIDEN_FACTOR if i == 0 else v * PRICE_WIDEN_FACTOR, 2)
                     for i, v in enumerate(band))
        return [("kept", band), (f"widened x{PRICE_WIDEN_FACTOR:g}", wide)]
    return [("kept", _snapshot(c, _FIELDS_OF[name]))]


_FIELDS_OF = {"categories": ("categories",), "brands": ("brands",), "colours": ("colours",),
              "price_band": _PRICE, "min_rating": ("min_rating",)}


def _relax(request: optimization_pb2.OptimizationRequest, catalog: Catalog) -> list[optimization_pb2.Relaxation]:
    c, k = request.constraints, request.k
    if _candidates(catalog, c) >= k:
        return []
    present = [n for n in _RELAXABLE if any(v not in (None, ()) for v in _snapshot(c, _FIELDS_OF[n]))]
    order = sorted(present, key=lambda n: (-_support(request, n) * RELAX_IMPORTANCE[n], _RELAXABLE.index(n)))
    if c.HasField("min_rating"):
        order.append("min_rating")
    wanted = {n: _levels(n, c) for n in order}
    empty = {n: tuple(() if f in ("brands", "categories", "colours") else None for f in _FIELDS_OF[n]) for n in order}
    for n in order:
        _restore(c, _FIELDS_OF[n], empty[n])

    relaxations = []
    for n in order:
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
            reason = f"{'; then '.join(tried)}; {n} {outcome} -> {_candidates(catalog, c)} candidates"
            relaxations.append(optimization_pb2.Relaxation(constraint=n, reason=reason))
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
    if request.objective not in (optimization_pb2.OBJECTIVE_EXPECTED_REVENUE,
                                 optimization_pb2.OBJECTIVE_EXPECTED_MARGIN):
        request.objective = optimization_pb2.OBJECTIVE_EXPECTED_REVENUE

    c, p = request.constraints, request.preferences
    for field in FIELDS:
        ground = _grounder(catalog, field)
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
    if request.objective not in (optimization_pb2.OBJECTIVE_EXPECTED_REVENUE,
                                 optimization_pb2.OBJECTIVE_EXPECTED_MARGIN):
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
    if not problems:
        count = _candidates(catalog, c)
        if count < request.k:
            problems.append(f"only {count} candidates satisfy the constraints ({_describe(c)}), k={request.k}")
    return problems
