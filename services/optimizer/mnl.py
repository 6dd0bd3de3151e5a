"""Capacitated assortment optimization under the multinomial-logit (MNL) choice model.

Products i have revenue r_i > 0 and preference weight v_i > 0; the no-purchase option has weight v0 > 0.
Offering S, the shopper picks i in S with probability v_i / (v0 + sum_{j in S} v_j), so the expected
revenue is R(S) = sum_{i in S} r_i v_i / (v0 + sum_{i in S} v_i). We solve max R(S) s.t. |S| <= K:

- `threshold_search`: exact revenue-threshold (Dinkelbach) search on numpy arrays, the fast path.
- `solve_lp_pyomo`: the Davis-Gallego-Topaloglu / Charnes-Cooper LP in Pyomo + HiGHS, the reference
  formulation (its constraint matrix is totally unimodular for cardinality, so a vertex is an assortment).
- `brute_force`: enumeration, for tests only.

Pure domain code: no Kafka, no I/O. `recommend` maps an OptimizationRequest onto a Catalog.
"""

from __future__ import annotations

import itertools
import math
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from interarec.v1 import optimization_pb2
from services.common.catalog import Catalog


class MnlSolverError(RuntimeError):
    """The LP solver did not return a proven optimum (or its answer does not check out)."""


@dataclass(frozen=True)
class Assortment:
    """An offered set. `indices` point into the r/v arrays it was solved on (for `recommend`: into
    `candidate_idx`), sorted by choice probability, highest first (ties by index)."""

    indices: tuple[int, ...]
    expected_revenue: float
    choice_probabilities: tuple[float, ...]  # aligned with `indices`
    no_purchase_probability: float
    solver: str
    solve_ms: float

    def __len__(self) -> int:
        return len(self.indices)

    def catalog_indices(self, candidate_idx: np.ndarray) -> list[int]:
        """Catalog row numbers of the chosen products, in assortment order."""
        return [int(candidate_idx[i]) for i in self.indices]


def _check_inputs(r: np.ndarray, v: np.ndarray, v0: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(r, dtype=float)
    v = np.asarray(v, dtype=float)
    if r.ndim != 1 or r.shape != v.shape:
        raise ValueError(f"r and v must be 1-D arrays of equal length, got {r.shape} and {v.shape}")
    if not (v0 > 0 and math.isfinite(v0)):
        raise ValueError(f"v0 must be positive and finite, got {v0}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if r.size and (not np.all(np.isfinite(r)) or not np.all(np.isfinite(v)) or np.any(v <= 0)):
        raise ValueError("r must be finite and v finite and positive")
    return r, v


def revenue(r: np.ndarray, v: np.ndarray, v0: float, chosen) -> float:
    """R(S) for the index collection `chosen`."""
    idx = np.asarray(list(chosen), dtype=int)
    if idx.size == 0:
        return 0.0
    return float(np.dot(r[idx], v[idx]) / (v0 + v[idx].sum()))


def _assortment(r: np.ndarray, v: np.ndarray, v0: float, chosen, solver: str, t0: float) -> Assortment:
    idx = np.asarray(sorted(int(i) for i in chosen), dtype=int)
    denom = v0 + float(v[idx].sum())
    probs = v[idx] / denom
    order = np.argsort(-probs, kind="stable")  # stable: ties keep index order, so output is deterministic
    return Assortment(
        indices=tuple(int(i) for i in idx[order]),
        expected_revenue=float(np.dot(r[idx], probs)) if idx.size else 0.0,
        choice_probabilities=tuple(float(p) for p in probs[order]),
        no_purchase_probability=v0 / denom,
        solver=solver,
        solve_ms=(time.perf_counter() - t0) * 1e3,
    )


def _top_k_positive(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest strictly positive scores, ties broken by lowest index; sorted."""
    pos = np.flatnonzero(score > 0)
    if pos.size <= k:
        return pos
    if k == 0:
        return pos[:0]
    s = score[pos]
    kth = np.partition(s, s.size - k)[s.size - k]  # O(n) instead of a full sort: this is the hot loop
    above = pos[s > kth]
    ties = pos[s == kth][: k - above.size]  # pos is ascending, so lowest indices win ties
    return np.sort(np.concatenate([above, ties]))


MAX_THRESHOLD_ITERATIONS = 10_000  # observed: at most ~12 passes, up to 100,000 products


def threshold_search(r: np.ndarray, v: np.ndarray, v0: float, k: int) -> Assortment:
    """Exact optimum of max R(S) s.t. |S| <= k by revenue-threshold (Dinkelbach) iteration.

    For a threshold z, S(z) = top-k items by v_i (r_i - z) among those with v_i (r_i - z) > 0 maximises
    sum_{i in S} v_i r_i - z (v0 + sum_{i in S} v_i). Setting z <- R(S(z)) strictly increases z until
    that maximum is 0, which happens exactly at the optimal revenue z*; the number of distinct sets is
    finite, so the loop ends (in practice in a handful of iterations).
    """
    t0 = time.perf_counter()
    r, v = _check_inputs(r, v, v0, k)
    best: np.ndarray = np.empty(0, dtype=int)
    z = 0.0
    for _ in range(MAX_THRESHOLD_ITERATIONS):
        chosen = _top_k_positive(v * (r - z), k)
        if chosen.size == 0:
            break
        z_new = float(np.dot(r[chosen], v[chosen]) / (v0 + v[chosen].sum()))
        # relative tolerance: stop once the value stops increasing beyond float noise
        if z_new <= z + 1e-12 * max(1.0, abs(z)):
            break
        best, z = chosen, z_new
    else:  # unreachable in exact arithmetic (z strictly increases over finitely many sets); never return silently
        raise MnlSolverError(f"threshold search did not converge in {MAX_THRESHOLD_ITERATIONS} iterations")
    return _assortment(r, v, v0, best, "threshold", t0)


# HiGHS options that are fast on this LP: the w0 column is dense (it appears in every availability row),
# and presolve + dual simplex was measured 4-40x slower than primal simplex without presolve.
HIGHS_LP_OPTIONS: dict[str, object] = {
    "presolve": "off",
    "solver": "simplex",
    "simplex_strategy": 4,  # 4 = primal simplex
}
# A vertex of the LP has w_i in {0, v_i w0}; anything above half-way counts as offered.
LP_RECOVERY_TOL = 0.5


def solve_lp_pyomo(
    r: np.ndarray,
    v: np.ndarray,
    v0: float,
    k: int,
    solver: str = "highs",
    options: Mapping[str, object] | None = None,
    stats: dict[str, float] | None = None,
) -> Assortment:
    """Solve the capacitated MNL problem as the Charnes-Cooper LP (Davis, Gallego & Topaloglu 2014):

        max sum_i r_i w_i  s.t.  w0 + sum_i w_i = 1,  w_i <= (v_i / v0) w0,  sum_i w_i / (v_i / v0) <= k w0,
        w >= 0.

    w0 is the no-purchase probability and w_i the purchase probability of i (weights normalised by v0).
    `solver` names a pyomo.contrib.solver solver ("highs" = the highspy interface); `options` are
    passed through as solver options (default: HIGHS_LP_OPTIONS when solver is "highs").
    If `stats` is given it receives build_ms (Pyomo model), solve_ms (translation + HiGHS, as Pyomo
    reports it) and highs_ms (HiGHS alone), for benchmarks.
    Raises MnlSolverError unless the solver proves optimality.
    """
    t0 = time.perf_counter()
    r, v = _check_inputs(r, v, v0, k)
    n = r.size
    if n == 0 or k == 0:
        return _assortment(r, v, v0, [], f"pyomo-{solver}-lp", t0)

    import pyomo.environ as pyo  # deferred: importing Pyomo costs ~0.5 s and only this path needs it
    from pyomo.contrib.solver.common.factory import SolverFactory
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    rl = r.tolist()
    vl = (v / v0).tolist()  # normalise by v0 so the no-purchase weight is 1 in the LP
    m = pyo.ConcreteModel()
    m.I = pyo.RangeSet(0, n - 1)
    m.w0 = pyo.Var(domain=pyo.NonNegativeReals)
    m.w = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.obj = pyo.Objective(expr=pyo.quicksum(rl[i] * m.w[i] for i in range(n)), sense=pyo.maximize)
    m.norm = pyo.Constraint(expr=m.w0 + pyo.quicksum(m.w[i] for i in range(n)) == 1)
    m.avail = pyo.Constraint(m.I, rule=lambda mm, i: mm.w[i] - vl[i] * mm.w0 <= 0)
    if k < n:  # redundant otherwise (w_i / v_i <= w0 already sums to n w0)
        m.card = pyo.Constraint(expr=pyo.quicksum(m.w[i] / vl[i] for i in range(n)) - k * m.w0 <= 0)

    t_built = time.perf_counter()
    opt = SolverFactory(solver)
    if options is None:
        options = HIGHS_LP_OPTIONS if solver == "highs" else {}
    results = opt.solve(
        m,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        solver_options=dict(options),
    )
    if stats is not None:
        stats["build_ms"] = (t_built - t0) * 1e3
        stats["solve_ms"] = (time.perf_counter() - t_built) * 1e3
        highs_time = getattr(results.timing_info, "highs_time", None)  # set by the highs interface only
        if isinstance(highs_time, float | int):
            stats["highs_ms"] = float(highs_time) * 1e3
    if (
        results.termination_condition != TerminationCondition.convergenceCriteriaSatisfied
        or results.solution_status != SolutionStatus.optimal
    ):
        raise MnlSolverError(
            f"{solver} did not solve the MNL LP to optimality (n={n}, k={k}): "
            f"termination={results.termination_condition.name}, solution={results.solution_status.name}"
        )
    results.solution_loader.load_vars()
    w0 = float(pyo.value(m.w0))
    w = np.array([pyo.value(m.w[i]) for i in range(n)], dtype=float)
    if w0 <= 0:
        raise MnlSolverError(f"{solver} returned w0={w0} for the MNL LP; expected a positive no-purchase mass")

    ratio = w / (np.asarray(vl) * w0)  # 1 for offered products, 0 otherwise, at a vertex
    chosen = np.flatnonzero(ratio > LP_RECOVERY_TOL)
    if chosen.size > k:  # only possible off a vertex; keep the most-offered ones
        chosen = np.sort(chosen[np.argsort(-ratio[chosen], kind="stable")[:k]])
    lp_value = float(np.dot(r, w))
    got = revenue(r, v, v0, chosen)
    if abs(got - lp_value) > 1e-6 * max(1.0, abs(lp_value)):
        raise MnlSolverError(
            f"MNL LP solution is not integral: LP value {lp_value:.9g} but recovered set earns {got:.9g}"
        )
    return _assortment(r, v, v0, chosen, f"pyomo-{solver}-lp", t0)


def brute_force(r: np.ndarray, v: np.ndarray, v0: float, k: int) -> Assortment:
    """Enumerate every subset of size <= k (tests only; n <= 14)."""
    t0 = time.perf_counter()
    r, v = _check_inputs(r, v, v0, k)
    if r.size > 14:
        raise ValueError(f"brute_force is for n <= 14, got n={r.size}")
    best: tuple[int, ...] = ()
    best_value = 0.0
    for size in range(1, min(k, r.size) + 1):
        for subset in itertools.combinations(range(r.size), size):
            value = revenue(r, v, v0, subset)
            if value > best_value + 1e-15:
                best, best_value = subset, value
    return _assortment(r, v, v0, best, "brute-force", t0)


# --- utilities: catalog + request -> (r, v) ---------------------------------------------------------

# Calibration: with v0 = 1, a typical product has v ~ exp(-3.4) ~ 0.033, so an 8-item assortment of
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
ANCHOR_COEF = 0.8  # per e-fold of distance from the price anchor: shoppers favour their viewed price level
DEFAULT_K = 8  # used when a request leaves k unset (0)


def _term_weights(values: np.ndarray, terms) -> np.ndarray:
    """Per-product weight of the matching preference term (case-insensitive), clipped to [0, 1]."""
    lookup: dict[str, float] = {}
    for term in terms:
        key = term.value.strip().casefold()
        if key:
            lookup[key] = max(lookup.get(key, 0.0), min(max(float(term.weight), 0.0), 1.0))
    if not lookup:
        return np.zeros(values.size)
    return np.array([lookup.get(str(x).casefold(), 0.0) for x in values], dtype=float)


_MEDIAN_PRICE: weakref.WeakKeyDictionary[Catalog, np.ndarray] = weakref.WeakKeyDictionary()


def _category_median_price(catalog: Catalog) -> np.ndarray:
    """Median price of each product's category (cached: catalogs are immutable)."""
    cached = _MEDIAN_PRICE.get(catalog)
    if cached is None:
        cached = np.empty(len(catalog))
        for cat in catalog.categories:
            sel = catalog.category == cat
            cached[sel] = np.median(catalog.price[sel])
        _MEDIAN_PRICE[catalog] = cached
    return cached


def utilities(
    catalog: Catalog,
    candidate_idx: np.ndarray,
    preferences: optimization_pb2.Preferences,
    objective: int = optimization_pb2.OBJECTIVE_EXPECTED_REVENUE,
) -> tuple[np.ndarray, np.ndarray]:
    """Revenue r_i (per the objective) and MNL weight v_i = exp(u_i) of each candidate (v0 = V0)."""
    idx = np.asarray(candidate_idx, dtype=int)
    price = catalog.price[idx]
    if objective == optimization_pb2.OBJECTIVE_EXPECTED_MARGIN:
        r = price * catalog.margin[idx]
    elif objective in (optimization_pb2.OBJECTIVE_EXPECTED_REVENUE, optimization_pb2.OBJECTIVE_UNSPECIFIED):
        r = price.copy()
    elif objective == optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY:
        r = np.ones(idx.size)  # every sale counts the same: the assortment most likely to be bought
    else:
        raise ValueError(f"unknown objective {objective}")

    u = (
        BASE_UTILITY
        + RATING_COEF * (catalog.rating[idx] - RATING_REF)
        + REVIEWS_COEF * (np.log1p(catalog.review_count[idx]) - math.log1p(REVIEWS_REF))
        - PRICE_COEF * np.log(price / _category_median_price(catalog)[idx])
        + BRAND_COEF * _term_weights(catalog.brand[idx], preferences.brands)
        + CATEGORY_COEF * _term_weights(catalog.category[idx], preferences.categories)
        + COLOUR_COEF * _term_weights(catalog.colour[idx], preferences.colours)
    )
    if preferences.HasField("price_anchor") and preferences.price_anchor > 0:
        u = u - ANCHOR_COEF * np.abs(np.log(price / preferences.price_anchor))
    return r, np.exp(u)


def _canonical(values, known: list[str]) -> list[str]:
    """Map constraint values onto the catalog's spelling (case-insensitive); unknown values stay as they
    are, so they match nothing rather than being silently dropped."""
    lookup = {k.casefold(): k for k in known}
    return [lookup.get(x.strip().casefold(), x) for x in values]


def candidate_mask(catalog: Catalog, constraints: optimization_pb2.Constraints) -> np.ndarray:
    """Catalog rows satisfying every hard constraint of the request."""
    return catalog.mask(
        categories=_canonical(constraints.categories, catalog.categories),
        brands=_canonical(constraints.brands, catalog.brands),
        colours=_canonical(constraints.colours, catalog.colours),
        price_min=constraints.price_min if constraints.HasField("price_min") else None,
        price_max=constraints.price_max if constraints.HasField("price_max") else None,
        min_rating=constraints.min_rating if constraints.HasField("min_rating") else None,
        exclude_ids=list(constraints.exclude_product_ids),
    )


def _brand_capped(catalog: Catalog, candidate_idx: np.ndarray, r: np.ndarray, v: np.ndarray, k: int, cap: int,
                  t0: float) -> tuple[Assortment, np.ndarray]:
    """At most `cap` items per brand: keep each brand's best `cap` candidates by r*v, then solve as usual.
    Exact when all r are equal (purchase probability: the best assortment is the k largest v, and a per-brand
    cap is a partition matroid, so greedy is optimal); a feasible heuristic otherwise."""
    cap = max(int(cap), 1)
    order = np.argsort(-r * v, kind="stable")
    kept: list[int] = []
    per_brand: dict[str, int] = {}
    for i in order:
        brand = catalog.brand[candidate_idx[i]]
        if per_brand.get(brand, 0) < cap:
            per_brand[brand] = per_brand.get(brand, 0) + 1
            kept.append(int(i))
    kept_idx = np.array(sorted(kept), dtype=int)
    sub = threshold_search(r[kept_idx], v[kept_idx], V0, k)
    chosen = [int(kept_idx[i]) for i in sub.indices]
    return _assortment(r, v, V0, chosen, "threshold+brand-cap", t0), candidate_idx


def recommend(
    catalog: Catalog,
    request: optimization_pb2.OptimizationRequest,
    solver: str = "threshold",
) -> tuple[Assortment, np.ndarray]:
    """Revenue-maximising assortment for a request: hard constraints -> candidates -> utilities -> solve.

    Returns the assortment (indices into `candidate_idx`) and `candidate_idx` (catalog rows that passed
    the hard constraints). No candidate -> an empty assortment, never an exception.
    solver: "threshold" (exact, fast path) or "pyomo" (the reference LP through HiGHS).
    """
    t0 = time.perf_counter()
    if solver not in ("threshold", "pyomo"):
        raise ValueError(f"solver must be 'threshold' or 'pyomo', got {solver!r}")
    candidate_idx = np.flatnonzero(candidate_mask(catalog, request.constraints))
    k = int(request.k) or DEFAULT_K
    if candidate_idx.size == 0:
        name = "threshold" if solver == "threshold" else "pyomo-highs-lp"
        return _assortment(np.empty(0), np.empty(0), V0, [], name, t0), candidate_idx
    r, v = utilities(catalog, candidate_idx, request.preferences, request.objective)
    if request.constraints.HasField("max_per_brand"):
        return _brand_capped(catalog, candidate_idx, r, v, k, request.constraints.max_per_brand, t0)
    if solver == "threshold":
        return threshold_search(r, v, V0, k), candidate_idx
    return solve_lp_pyomo(r, v, V0, k), candidate_idx
