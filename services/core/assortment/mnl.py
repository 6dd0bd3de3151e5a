"""Request -> assortment: candidates, MNL model, side constraints, solve, and why each item is there.

The pieces (pure domain code, no Kafka):
- candidates.py: hard filters on a large catalog with numpy masks;
- attraction.py: the documented MNL utility model and the objectives;
- problem.py: the constrained problem and answer types;
- threshold.py: the exact fast path (cardinality, brand caps, pins, minimum number of brands);
- highs_lp.py: the general LP/MILP from arrays with a time limit; pyomo_ref.py: the Pyomo reference;
- brute_force.py: enumeration, the ground truth in tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from interarec.v1 import optimization_pb2, recommendations_pb2
from services.common.catalog import Catalog
from services.core.assortment.attraction import V0, matched_preferences, utilities, viewed_rows
from services.core.assortment.brute_force import brute_force
from services.core.assortment.candidates import catalog_index
from services.core.assortment.highs_lp import solve_highs
from services.core.assortment.problem import (
    OPTIMAL,
    TIME_LIMIT,
    Assortment,
    InfeasibleError,
    MnlSolverError,
    Problem,
    Row,
    make_assortment,
    max_groups_reachable,
    revenue,
)
from services.core.assortment.pyomo_ref import solve_pyomo
from services.core.assortment.threshold import solve_threshold, threshold_search

__all__ = ["Assortment", "InfeasibleError", "MnlSolverError", "OPTIMAL", "Problem", "SOLVERS", "Solved",
           "TIME_LIMIT", "brute_force", "explain", "recommend", "revenue", "solve", "solve_request",
           "threshold_search", "utilities"]

DEFAULT_K = 8  # used when a request leaves k unset (0)
SOLVERS = ("threshold", "highs", "pyomo")


def solve(p: Problem, solver: str = "threshold", time_limit_s: float | None = None) -> Assortment:
    if solver == "threshold":
        return solve_threshold(p, time_limit_s)
    if solver == "highs":
        return solve_highs(p, time_limit_s)
    if solver == "pyomo":
        return solve_pyomo(p)
    raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


@dataclass
class Solved:
    assortment: Assortment
    candidates: np.ndarray  # catalog rows; assortment.indices point into this
    problem: Problem
    shaping: list[str] = field(default_factory=list)  # constraints/rules that changed the set, in words
    item_rules: dict[int, list[str]] = field(default_factory=dict)  # assortment index -> what shaped it
    viewed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))


def _pins(catalog: Catalog, c: optimization_pb2.Constraints, k: int, excluded: np.ndarray,
          notes: list[str]) -> list[int]:
    rows: list[int] = []
    for pid in dict.fromkeys(c.include_product_ids):
        row = catalog.index.get(pid)
        if row is None:
            notes.append(f"pinned product {pid} is not in the catalog: ignored")
        elif excluded[row]:
            notes.append(f"pinned product {pid} is also excluded: the exclusion wins")
        elif len(rows) >= k:
            notes.append(f"pinned product {pid} dropped: more pins than k={k}")
        else:
            rows.append(row)
    return rows


def at_least_rows(catalog: Catalog, candidates: np.ndarray, c: optimization_pb2.Constraints, k: int,
                  notes: list[str]) -> tuple[Row, ...]:
    """One row per AtLeast group: at least `count` of the offered candidates meet the group, lowered to what
    the candidates and k allow (said in notes); an empty group or a count of 0 constrains nothing."""
    rows = []
    for g in c.at_least:
        keep = catalog.mask(categories=list(g.categories), brands=list(g.brands), colours=list(g.colours),
                            price_min=g.price_min if g.HasField("price_min") else None,
                            price_max=g.price_max if g.HasField("price_max") else None,
                            min_rating=g.min_rating if g.HasField("min_rating") else None)[candidates]
        want = min(int(g.count), k)
        got = min(want, int(keep.sum()))
        if got < want:
            notes.append(f"at_least {_describe_group(g)}: {want} wanted, {got} among the candidates")
        if got > 0:
            idx = np.flatnonzero(keep)
            rows.append(Row(idx, np.ones(idx.size), lo=float(got)))
    return tuple(rows)


def _yield_last_group(p: Problem, notes: list[str]) -> Problem:
    """The groups together need more items than the panel holds: the last listed yields first, one item at a
    time, so it keeps as many items as still fit beside the ones before (dropping it whole left a reading of the
    shopper with no item at all when one fewer would have fitted: held-out `short-band`'s price group, 0 of 8
    right over its first view)."""
    last = p.rows[-1]
    n = len(p.rows)
    if last.lo > 1:
        notes.append(f"at_least group {n} lowered to {last.lo - 1:g}: no assortment meets {last.lo:g} with the "
                     "ones before")
        lowered = replace(last, lo=last.lo - 1)
        return replace(p, rows=(*p.rows[:-1], lowered))
    notes.append(f"at_least group {n} dropped: no assortment meets it with the ones before")
    return replace(p, rows=p.rows[:-1])


def _describe_group(g: optimization_pb2.AtLeast) -> str:
    parts = [f"{name}={list(getattr(g, name))}" for name in ("categories", "brands", "colours") if getattr(g, name)]
    if g.HasField("price_min") or g.HasField("price_max"):
        parts.append(f"price={g.price_min if g.HasField('price_min') else ''}.."
                     f"{g.price_max if g.HasField('price_max') else ''}")
    if g.HasField("min_rating"):
        parts.append(f"rating>={g.min_rating:g}")
    return ", ".join(parts) or "anything"


def solve_request(catalog: Catalog, request: optimization_pb2.OptimizationRequest, solver: str = "threshold",
                  learned: np.ndarray | None = None, time_limit_s: float | None = None) -> Solved:
    """Hard filters -> candidates (+ pins) -> MNL model -> constrained solve -> what shaped the answer.

    Pins bypass the session's filters (a pin is an explicit instruction) but not exclusions. Side
    constraints that no assortment can meet are relaxed to the closest feasible level, and said so.
    `learned` is the feedback multiplier per catalog row (feedback.py), or None.
    """
    t0 = time.perf_counter()
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    c = request.constraints
    k = int(request.k) or DEFAULT_K
    if c.HasField("max_per_brand") and c.max_per_brand == 0:
        raise ValueError("max_per_brand must be at least 1 when set")
    index = catalog_index(catalog)
    notes: list[str] = []
    pins = _pins(catalog, c, k, index.excluded(c), notes)
    candidates = np.union1d(index.candidates(c), np.asarray(pins, dtype=np.int64))
    viewed = viewed_rows(catalog, request)
    r, v = utilities(catalog, candidates, request.preferences, request.objective, request.revenue_weight,
                     viewed, learned)
    group = index.brand[candidates]
    include = np.searchsorted(candidates, np.asarray(sorted(pins), dtype=int))
    cap = None
    if c.HasField("max_per_brand"):
        cap = np.full(len(index.brand_names), int(c.max_per_brand), dtype=np.int64)
        # pins beyond a brand's cap: keep the cap, drop the later pins of that brand
        kept, count = [], {}
        for row in pins:
            b = int(index.brand[row])
            if count.get(b, 0) < c.max_per_brand:
                count[b] = count.get(b, 0) + 1
                kept.append(row)
            else:
                notes.append(f"pinned product {catalog.products[row].product_id} dropped: brand "
                             f"{index.brand_names[b]} already has {c.max_per_brand} pinned")
        pins = kept
        include = np.searchsorted(candidates, np.asarray(sorted(pins), dtype=int))
    p = Problem(r, v, V0, k, group, cap, include, 0)
    min_groups = int(c.min_distinct_brands) if c.HasField("min_distinct_brands") else 0
    if min_groups:
        reachable = max_groups_reachable(p)
        if reachable < min_groups:
            notes.append(f"min_distinct_brands {min_groups} relaxed to {reachable}: no more brands are reachable "
                         "among the candidates")
            min_groups = reachable
        p = Problem(r, v, V0, k, group, cap, include, min_groups)
    rows = at_least_rows(catalog, candidates, c, k, notes)
    if rows:
        p = Problem(r, v, V0, k, group, cap, include, p.min_groups, rows)
    if candidates.size == 0:
        a = make_assortment(p, [], solver, t0)
    else:
        while True:
            try:  # general rows are a 0-1 program: the threshold path cannot take them, the HiGHS path can
                a = solve(p, "highs" if p.rows and solver == "threshold" else solver, time_limit_s)
                break
            except InfeasibleError:
                if not p.rows:
                    raise
                p = _yield_last_group(p, notes)
    solved = Solved(a, candidates, p, viewed=viewed)
    _shaping(catalog, request, solved, notes, index)
    return solved


def _shaping(catalog: Catalog, request, s: Solved, notes: list[str], index) -> None:
    """Record which side constraints or rules changed the set, overall and per item."""
    c, p, a = request.constraints, s.problem, s.assortment
    shaping = list(notes)
    side = p.cap is not None or p.min_groups or p.include.size
    if side and p.n:
        plain = solve_threshold(Problem(p.r, p.v, p.v0, p.k))
        unconstrained = set(plain.indices)
        pins = set(p.include.tolist())
        brands = [int(p.group[i]) for i in a.indices]
        if pins - unconstrained:
            shaping.append(f"include_product_ids: {len(pins)} pinned")
        if p.cap is not None:
            plain_counts = np.bincount(p.group[list(unconstrained)] if unconstrained else [],
                                       minlength=p.n_groups)
            if np.any(plain_counts > p.cap):
                shaping.append(f"max_per_brand={int(c.max_per_brand)}")
        if p.min_groups and len({int(p.group[i]) for i in unconstrained}) < p.min_groups:
            shaping.append(f"min_distinct_brands={p.min_groups}")
        for pos, i in enumerate(a.indices):
            rules = []
            if i in pins:
                rules.append("pinned (include_product_ids)")
            elif i not in unconstrained and p.min_groups and brands.count(brands[pos]) == 1:
                rules.append(f"added for brand diversity (min_distinct_brands={p.min_groups})")
            elif i not in unconstrained:
                rules.append("took the place of a product a side constraint removed")
            if p.cap is not None and brands.count(brands[pos]) >= int(c.max_per_brand):
                rules.append(f"brand {index.brand_names[brands[pos]]} at its cap (max_per_brand="
                             f"{int(c.max_per_brand)})")
            if rules:
                s.item_rules[i] = rules
    if c.exclude_brands:
        shaping.append("exclude_brands: " + ", ".join(c.exclude_brands))
    if c.exclude_product_ids:
        shaping.append(f"exclude_product_ids: {len(c.exclude_product_ids)} excluded")
    for g in c.at_least:
        shaping.append(f"at_least {g.count} of {_describe_group(g)}")
    if a.status == TIME_LIMIT:
        shaping.append("time limit reached: best feasible assortment found")
    s.shaping = shaping


def explain(catalog: Catalog, request: optimization_pb2.OptimizationRequest,
            s: Solved) -> list[recommendations_pb2.ItemReason]:
    """One ItemReason per assortment item: matched preferences, choice probability, expected revenue
    contribution (r_i x P(choose i)) and the constraints/rules that shaped it."""
    reasons = []
    for i, prob in zip(s.assortment.indices, s.assortment.choice_probabilities, strict=True):
        row = int(s.candidates[i])
        matched = matched_preferences(catalog, row, request.preferences, s.viewed)
        # revenue contribution: price x P (x margin under the margin objective), whatever is optimised
        contribution = float(catalog.price[row] * prob)
        if request.objective == optimization_pb2.OBJECTIVE_EXPECTED_MARGIN:
            contribution *= float(catalog.margin[row])
        rules = s.item_rules.get(i, [])
        text = (f"{prob:.1%} chance of being chosen, contributing {contribution:,.2f} to the objective"
                + (f"; matches {', '.join(matched)}" if matched else "")
                + (f"; {'; '.join(s.item_rules[i])}" if i in s.item_rules else ""))
        reasons.append(recommendations_pb2.ItemReason(matched_preferences=matched,
                                                      expected_revenue_contribution=contribution,
                                                      rules=rules, text=text))
    return reasons


def recommend(catalog: Catalog, request: optimization_pb2.OptimizationRequest, solver: str = "threshold",
              learned: np.ndarray | None = None, time_limit_s: float | None = None) -> tuple[Assortment, np.ndarray]:
    """Revenue-maximising assortment for a request (see solve_request). Returns the assortment (indices
    into `candidate_idx`) and `candidate_idx`. No candidate -> an empty assortment, never an exception."""
    s = solve_request(catalog, request, solver, learned, time_limit_s)
    return s.assortment, s.candidates
