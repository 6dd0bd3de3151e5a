"""Every solver path against brute force on small random instances (hypothesis), and against the Pyomo
reference on large ones; time limits return a feasible best-so-far answer marked as such."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.assortment.brute_force import brute_force
from services.core.assortment.highs_lp import solve_highs
from services.core.assortment.problem import TIME_LIMIT, InfeasibleError, Problem, Row, revenue
from services.core.assortment.pyomo_ref import solve_pyomo
from services.core.assortment.threshold import solve_threshold

REL = 1e-7


@st.composite
def problems(draw, rows: bool = False) -> Problem:
    n = draw(st.integers(0, 9))
    k = draw(st.integers(0, n + 1))
    v0 = draw(st.sampled_from([0.05, 0.5, 1.0, 5.0]))
    if draw(st.booleans()):  # coarse values: many ties
        r = [10.0 * draw(st.integers(1, 4)) for _ in range(n)]
        v = [0.5 * draw(st.integers(1, 3)) for _ in range(n)]
    else:
        r = draw(st.lists(st.floats(1.0, 500.0), min_size=n, max_size=n))
        v = draw(st.lists(st.floats(0.01, 5.0), min_size=n, max_size=n))
    n_groups = draw(st.integers(1, 4))
    group = draw(st.lists(st.integers(0, n_groups - 1), min_size=n, max_size=n))
    cap = draw(st.none() | st.lists(st.integers(0, 3), min_size=n_groups, max_size=n_groups))
    include = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True)) if n else []
    min_groups = draw(st.integers(0, n_groups))
    general: tuple[Row, ...] = ()
    if rows and n:
        general = tuple(
            Row(idx=np.array(idx), coef=np.array(draw(st.lists(st.integers(-2, 3), min_size=len(idx),
                                                                max_size=len(idx))), dtype=float),
                hi=float(draw(st.integers(0, 4))))
            for idx in draw(st.lists(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True),
                                     max_size=2)))
    return Problem(np.array(r), np.array(v), v0, k, np.array(group, dtype=int),
                   None if cap is None else np.array(cap), np.array(include, dtype=int), min_groups, general)


def _agrees(p: Problem, solve) -> None:
    try:
        best = brute_force(p)
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            solve(p)
        return
    got = solve(p)
    assert p.is_feasible(got.indices), (got, p)
    assert got.expected_revenue == pytest.approx(best.expected_revenue, rel=REL, abs=1e-12)
    assert revenue(p.r, p.v, p.v0, got.indices) == pytest.approx(got.expected_revenue, rel=1e-12, abs=1e-12)
    assert sum(got.choice_probabilities) + got.no_purchase_probability == pytest.approx(1.0)


# Brute force over up to 9 products dominates the run time; these counts keep the file to seconds.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(problems())
def test_threshold_path_is_exact(p):
    _agrees(p, solve_threshold)


@SLOW
@given(problems())
def test_highs_path_is_exact(p):
    _agrees(p, solve_highs)


@SLOW
@given(problems(rows=True))
def test_highs_path_is_exact_with_general_rows(p):
    _agrees(p, solve_highs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(rows=True))
def test_pyomo_reference_is_exact(p):
    _agrees(p, solve_pyomo)


def _large(seed: int, n: int, brands: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.lognormal(4.0, 0.9, n), np.exp(rng.normal(-3.4, 0.6, n)), rng.integers(0, brands, n)


@pytest.mark.parametrize("seed", [1, 2])
def test_large_instances_match_the_pyomo_reference(seed):
    r, v, g = _large(seed, 1000)
    rng = np.random.default_rng(seed)
    cases = [
        Problem(r, v, 1.0, 10),
        Problem(r, v, 1.0, 10, g, np.full(40, 2)),
        Problem(r, v, 1.0, 12, g, np.full(40, 3), rng.choice(1000, 3, replace=False), 8),
    ]
    for p in cases:
        ref = solve_pyomo(p)
        for solve in (solve_threshold, solve_highs):
            got = solve(p)
            assert got.expected_revenue == pytest.approx(ref.expected_revenue, rel=1e-9)
            assert p.is_feasible(got.indices)


def test_general_rows_on_a_larger_instance_match_the_pyomo_reference():
    """Business rules as rows the threshold start breaks, so the search takes several 0-1 programs."""
    r, v, g = _large(5, 300, brands=12)
    premium = np.flatnonzero(r >= np.quantile(r, 0.9))
    promoted = np.random.default_rng(5).choice(300, 20, replace=False)
    rows = (Row(premium, np.ones(premium.size), hi=1.0), Row(promoted, np.ones(promoted.size), lo=2.0))
    p = Problem(r, v, 1.0, 8, g, np.full(12, 2), np.array([3]), 5, rows)
    unruled = solve_threshold(Problem(r, v, 1.0, 8, g, np.full(12, 2), np.array([3]), 5))
    assert not p.is_feasible(unruled.indices)  # the rules bind
    stats: dict[str, float] = {}
    got = solve_highs(p, stats=stats)
    assert p.is_feasible(got.indices)
    assert got.expected_revenue == pytest.approx(solve_pyomo(p).expected_revenue, rel=1e-9)
    assert stats["steps"] >= 2 and stats["kept"] < p.n  # pruned, and more than a verification step


def test_threshold_time_limit_returns_a_feasible_best_so_far():
    r, v, g = _large(3, 20_000)
    p = Problem(r, v, 1.0, 10, g, np.full(40, 2), np.array([5, 6]), 6)
    exact = solve_threshold(p)
    cut = solve_threshold(p, time_limit_s=0.0)  # stops after the first improving pass
    assert exact.status == "optimal"
    assert cut.status == TIME_LIMIT
    assert p.is_feasible(cut.indices)
    assert cut.expected_revenue <= exact.expected_revenue


def test_highs_time_limit_returns_a_feasible_answer_marked_as_such():
    r, v, g = _large(4, 20_000, brands=300)
    p = Problem(r, v, 1.0, 40, g, np.full(300, 1), np.empty(0, int), 40)
    got = solve_highs(p, time_limit_s=1e-4)
    assert got.status == TIME_LIMIT
    assert p.is_feasible(got.indices)
    assert got.expected_revenue <= solve_threshold(p).expected_revenue * (1 + 1e-12)


def test_infeasible_pins_and_diversity_are_reported():
    r, v = np.array([10.0, 20.0, 30.0]), np.array([1.0, 1.0, 1.0])
    with pytest.raises(InfeasibleError):
        solve_threshold(Problem(r, v, 1.0, 1, np.zeros(3, int), None, np.array([0, 1])))
    with pytest.raises(InfeasibleError):
        solve_threshold(Problem(r, v, 1.0, 3, np.array([0, 0, 1]), None, np.empty(0, int), 3))


def test_candidate_index_matches_a_plain_scan():
    from interarec.v1 import optimization_pb2
    from services.core.assortment.candidates import catalog_index
    from tests.unit.catalog_factory import make_catalog

    catalog = make_catalog(400, seed=2)
    index = catalog_index(catalog)
    cases = [
        optimization_pb2.Constraints(),
        optimization_pb2.Constraints(categories=["laptops", "Cameras"], brands=["Acme", "Fjord", "Nope"],
                                     colours=["black", "silver"], price_min=100, price_max=2000, min_rating=3.0,
                                     exclude_brands=["fjord"], exclude_product_ids=["P00000", "P00009"]),
        optimization_pb2.Constraints(colours=["red"], price_max=300),
        optimization_pb2.Constraints(brands=["NoSuchBrand"]),
    ]
    for c in cases:
        def ok(p, c=c):
            low = [{x.casefold() for x in values} for values in (c.categories, c.brands, c.colours)]
            return ((not low[0] or p.category.casefold() in low[0]) and (not low[1] or p.brand.casefold() in low[1])
                    and (not low[2] or p.colour.casefold() in low[2])
                    and p.brand.casefold() not in {x.casefold() for x in c.exclude_brands}
                    and (not c.HasField("price_min") or p.price >= c.price_min)
                    and (not c.HasField("price_max") or p.price <= c.price_max)
                    and (not c.HasField("min_rating") or p.rating >= c.min_rating)
                    and p.product_id not in c.exclude_product_ids)
        expected = [i for i, p in enumerate(catalog.products) if ok(p)]
        assert index.candidates(c).tolist() == expected
