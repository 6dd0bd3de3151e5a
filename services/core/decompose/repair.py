"""The backend-independent half of decomposing: `repair_request` makes any backend's request valid (k bounded,
objective set, terms grounded in the catalog, prices and ratings sane, contradictions relaxed in one order, TIERS)
and `validate_request` lists what is still wrong with a request. The rules backend (rules.py) and the vllm backend
(llm_backend.py) both repair through it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.common.vocabulary import norm
from services.core.assortment.candidates import candidate_rows
from services.core.decompose.evidence import (
    FIELDS,
    FILTER_EVIDENCE,
    HARD_TERM_MIN_VIEWS,
    SEARCH_EVIDENCE,
    explicit_of,
    field_vocabulary,
)
from services.core.decompose.thresholds import (
    DEFAULT_K,
    HEDGE_SHARE,
    PRICE_BAND_MIN_VIEWS,
    PRICE_BAND_STEP,
    PRICE_WIDEN_FACTOR,
)
from services.core.recency import recency_weights

K_MIN, K_MAX = 1, 50  # K_MAX: a recommendation panel never shows more; keeps the optimizer fast

SUPPORTED_OBJECTIVES = (optimization_pb2.OBJECTIVE_EXPECTED_REVENUE, optimization_pb2.OBJECTIVE_EXPECTED_MARGIN,
                        optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY)


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


def _sorted_for(request: optimization_pb2.OptimizationRequest) -> float:
    """Bonus evidence for a budget open on the side the shopper's sort by price puts first (rules' sorted side): the
    sort is said once in the UI, as a searched word is, and weighs as one, by how far the views follow it. Not a
    statement of the budget itself: the budget stays inferred (its tier, and it waits for the product type)."""
    order, c = request.preferences.listing_order, request.constraints
    open_side = {summaries_pb2.SORT_ORDER_PRICE_ASC: "price_min", summaries_pb2.SORT_ORDER_PRICE_DESC: "price_max"}
    if order.order not in open_side or c.HasField(open_side[order.order]):
        return 0.0
    return STATED_BONUS[SEARCH_EVIDENCE] * order.weight


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
    sorted_for = {n: _sorted_for(request) if n == "price_band" else 0.0 for n in present}
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
        return weight * _lift(support[n], after / before if before else 0.0) + stated[n] + sorted_for[n]

    pair = ("brands", "colours")
    single = len({v.product_id for v in request.summary.viewed_products}) < HARD_TERM_MIN_VIEWS
    inferred = all(n in present and not stated[n] for n in pair)
    # Which of a brand and a colour the shopper wants cannot be told from one view, nor from views that back each as
    # often, the newest both: the lift then only says which is rarer in the catalog, not which the shopper follows
    # (held-out draw 2 `short-home`: two grey Velmont lamps, too few of both to fill the panel, kept Velmont alone,
    # 0 of 8 grey lamps; draw 3 `noisy-brand`: Pinecrest on the first and the newest of four views, yellow on the
    # two newest, kept yellow alone, 0 of 8 Pinecrest).
    untold = single or inferred and backing["brands"][-1] and backing["colours"][-1] \
        and sum(backing["brands"]) == sum(backing["colours"])
    # An inferred budget or rating floor is a habit within a product type (decompose reads it off the type's
    # views): it is weighed only once the type is settled, so it can never push out the type it came from.
    # Likewise a brand and colour the views cannot tell apart: what kind of thing the shopper looks for is surer than
    # which of its brand or colour they want, and the brand's lift given the colour (or the colour's given the brand)
    # left the type almost nothing to add where few products hold both (simulated `noisy-brand`: two blue Larkspur
    # coats kept Larkspur and blue over the type, 1 of 6 coats, where a coat of either is what the views say).
    waits = {n for n in ("price_band", "min_rating", *(pair if untold else ())) if n in present and not stated[n]}

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
    kept = [n for n in pair if n in present and _snapshot(c, _FIELDS_OF[n]) != empty[n]]
    # A budget read off the same two views is as untold: its tight window, cut around them, only made it the rarest
    # (held-out draw 4 `noisy-brand`: two black Elkhorn headphones at $25 and $26, a $24-27 band kept alone, 1 of 8
    # Elkhorn). It yields too; decompose's price group keeps half the panel near the two prices (hedges.hedge_price).
    if untold and inferred and not kept and _budget_alike(request, catalog, backing, stated):
        kept = ["price_band"]
    if untold and inferred and len(kept) == 1 and k >= 2:
        # The brand and colour cannot fill the panel together: half the panel for each instead of all of it for one.
        _restore(c, _FIELDS_OF[kept[0]], empty[kept[0]])
        count = int(k * HEDGE_SHARE)
        for n in pair:
            getattr(c.at_least.add(count=count), n).extend(wanted[n][0][1][0])
        relaxations.append(optimization_pb2.Relaxation(constraint=kept[0], reason=(
            f"{sum(backing['brands'])} view(s) each, the newest both: brand {list(wanted['brands'][0][1][0])} or "
            f"colour {list(wanted['colours'][0][1][0])}{' or the budget' * (kept[0] == 'price_band')} cannot be "
            f"told apart; {kept[0]} not kept alone: at least "
            f"{count} of {k} items of each")))
    return relaxations


def _budget_alike(request: optimization_pb2.OptimizationRequest, catalog: Catalog, backing: dict[str, list[bool]],
                  stated: dict[str, float]) -> bool:
    """Whether an inferred budget is kept that fewer views than a plain budget needs back exactly as the brand and
    colour are backed."""
    c = request.constraints
    if not (c.HasField("price_min") or c.HasField("price_max")) or stated.get("price_band"):
        return False
    few = len({v.product_id for v in request.summary.viewed_products}) < PRICE_BAND_MIN_VIEWS
    return few and _fits(request, "price_band", catalog) == backing["brands"] == backing["colours"]


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
