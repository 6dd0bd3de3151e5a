"""MNL assortment optimization: exactness against brute force, edge cases, and the catalog mapping."""

from __future__ import annotations

import numpy as np
import pytest

from interarec.v1 import optimization_pb2
from services.core.assortment import attraction
from services.core.assortment.brute_force import brute_force as _brute_force
from services.core.assortment.mnl import Assortment, recommend, revenue, threshold_search, utilities
from services.core.assortment.problem import Problem
from services.core.assortment.pyomo_ref import solve_pyomo
from tests.unit.catalog_factory import make_catalog

REL = 1e-6


def brute_force(r, v, v0, k):
    return _brute_force(Problem(r, v, v0, k))


def solve_lp_pyomo(r, v, v0, k):
    return solve_pyomo(Problem(r, v, v0, k))


def _instances():
    rng = np.random.default_rng(20240301)
    for case in range(90):
        n = int(rng.integers(1, 13))
        k = int(rng.integers(1, n + 2))
        v0 = float(rng.choice([0.05, 0.5, 1.0, 5.0]))
        if case % 3 == 0:  # realistic: heavy-tailed prices, small weights
            r = rng.lognormal(4.0, 0.9, n)
            v = np.exp(rng.normal(-3.0, 0.8, n))
        elif case % 3 == 1:  # large weights, so the threshold is high and few items enter
            r = rng.uniform(1.0, 100.0, n)
            v = rng.uniform(0.1, 5.0, n)
        else:  # coarse values: many ties
            r = rng.integers(1, 5, n).astype(float) * 10
            v = rng.integers(1, 4, n).astype(float) / 2
        yield n, k, v0, r, v


INSTANCES = list(_instances())


def _check(got: Assortment, best: Assortment, r, v, v0, k):
    assert got.expected_revenue == pytest.approx(best.expected_revenue, rel=REL, abs=1e-12)
    assert revenue(r, v, v0, got.indices) == pytest.approx(best.expected_revenue, rel=REL, abs=1e-12)
    assert len(got.indices) <= k
    assert len(set(got.indices)) == len(got.indices)
    assert sum(got.choice_probabilities) + got.no_purchase_probability == pytest.approx(1.0)
    assert list(got.choice_probabilities) == sorted(got.choice_probabilities, reverse=True)


@pytest.mark.parametrize("case", range(len(INSTANCES)))
def test_threshold_and_lp_match_brute_force(case):
    n, k, v0, r, v = INSTANCES[case]
    best = brute_force(r, v, v0, k)
    _check(threshold_search(r, v, v0, k), best, r, v, v0, k)
    _check(solve_lp_pyomo(r, v, v0, k), best, r, v, v0, k)


def test_empty_instance():
    empty = np.empty(0)
    for solve in (threshold_search, solve_lp_pyomo, brute_force):
        a = solve(empty, empty, 1.0, 5)
        assert a.indices == () and a.expected_revenue == 0.0 and a.no_purchase_probability == 1.0


def test_k_at_least_n_is_the_unconstrained_optimum():
    r = np.array([10.0, 50.0, 20.0, 40.0])
    v = np.array([1.0, 0.2, 0.8, 0.3])
    best = brute_force(r, v, 1.0, 4)
    for k in (4, 5, 100):
        assert threshold_search(r, v, 1.0, k).expected_revenue == pytest.approx(best.expected_revenue)
        assert solve_lp_pyomo(r, v, 1.0, k).expected_revenue == pytest.approx(best.expected_revenue)
    # Unconstrained MNL optimum is revenue-ordered: everything above the optimal revenue is offered.
    a = threshold_search(r, v, 1.0, 100)
    assert set(a.indices) == {i for i in range(4) if r[i] > a.expected_revenue}


def test_all_equal_products_tie_deterministically():
    r = np.full(6, 10.0)
    v = np.full(6, 0.1)
    a = threshold_search(r, v, 1.0, 3)
    assert a.indices == (0, 1, 2)  # stable by index
    assert a.expected_revenue == pytest.approx(10 * 0.3 / 1.3)
    assert a.choice_probabilities == pytest.approx((0.1 / 1.3,) * 3)
    assert solve_lp_pyomo(r, v, 1.0, 3).expected_revenue == pytest.approx(a.expected_revenue)


def test_k_zero_and_bad_inputs():
    r, v = np.array([5.0, 3.0]), np.array([1.0, 1.0])
    assert threshold_search(r, v, 1.0, 0).indices == ()
    with pytest.raises(ValueError):
        threshold_search(r, np.array([1.0, 0.0]), 1.0, 1)
    with pytest.raises(ValueError):
        threshold_search(r, v, 0.0, 1)
    with pytest.raises(ValueError):
        threshold_search(r, v[:1], 1.0, 1)


def test_threshold_scales():
    rng = np.random.default_rng(3)
    n = 20000
    r, v = rng.lognormal(4, 1, n), np.exp(rng.normal(-3, 1, n))
    a = threshold_search(r, v, 1.0, 8)
    assert len(a) == 8
    # optimality certificate: no product outside improves the objective at the optimal threshold
    z = a.expected_revenue
    score = v * (r - z)
    assert np.sort(score)[-8:].sum() == pytest.approx(z * 1.0, rel=1e-9)


# --- recommend() on a catalog ------------------------------------------------------------------------

CATALOG = make_catalog(240, seed=1)


def _request(k=8, **constraints) -> optimization_pb2.OptimizationRequest:
    req = optimization_pb2.OptimizationRequest(session_id="s1", k=k,
                                               objective=optimization_pb2.OBJECTIVE_EXPECTED_REVENUE)
    for name, value in constraints.items():
        field = getattr(req.constraints, name) if isinstance(value, list) else None
        if field is not None:
            field.extend(value)
        else:
            setattr(req.constraints, name, value)
    return req


@pytest.mark.parametrize("solver", ["threshold", "pyomo"])
def test_recommend_respects_every_hard_constraint(solver):
    excluded = [p.product_id for p in CATALOG.products if p.brand == "Acme" and p.category == "Laptops"][:2]
    req = _request(
        k=5,
        categories=["Laptops", "Monitors", "Cameras"],
        brands=["Acme", "Borealis", "Cobalt", "Dynamo"],
        colours=["black", "white", "silver", "grey", "blue"],
        price_min=150.0,
        price_max=1500.0,
        min_rating=3.5,
        exclude_product_ids=excluded,
    )
    a, cand = recommend(CATALOG, req, solver=solver)
    assert 0 < len(a) <= 5
    assert len(cand) >= 5
    for i in a.catalog_indices(cand):
        p = CATALOG.products[i]
        assert p.category in req.constraints.categories
        assert p.brand in req.constraints.brands
        assert p.colour in req.constraints.colours
        assert 150.0 <= p.price <= 1500.0
        assert p.rating >= 3.5
        assert p.product_id not in excluded
    # every candidate passes too
    for i in cand:
        p = CATALOG.products[i]
        assert p.brand in req.constraints.brands and p.product_id not in excluded


def test_recommend_solvers_agree_and_probabilities_are_realistic():
    req = _request(k=8)
    a, cand = recommend(CATALOG, req, solver="threshold")
    b, _ = recommend(CATALOG, req, solver="pyomo")
    assert a.expected_revenue == pytest.approx(b.expected_revenue, rel=REL)
    assert len(a) == 8  # calibrated so a K=8 panel fills up
    assert 0.5 <= a.no_purchase_probability <= 0.9
    assert a.solver == "threshold" and b.solver.startswith("pyomo")


def test_recommend_without_candidates_returns_empty():
    req = _request(brands=["NoSuchBrand"])
    a, cand = recommend(CATALOG, req)
    assert len(cand) == 0 and a.indices == () and a.expected_revenue == 0.0
    req = _request(price_min=1e9)
    a, cand = recommend(CATALOG, req, solver="pyomo")
    assert len(cand) == 0 and a.indices == ()


def test_recommend_k_unset_uses_default_and_constraint_case_is_forgiven():
    req = _request(k=0, brands=["acme"])
    a, cand = recommend(CATALOG, req)
    assert 0 < len(a) <= 8
    assert all(CATALOG.products[i].brand == "Acme" for i in cand)


def test_preferences_raise_choice_probability_of_matching_products():
    cand = np.arange(len(CATALOG))
    plain = optimization_pb2.Preferences()
    _, v_plain = utilities(CATALOG, cand, plain)
    for field, attr, value in (("brands", "brand", "Fjord"), ("categories", "category", "Cameras"),
                               ("colours", "colour", "red")):
        pref = optimization_pb2.Preferences()
        getattr(pref, field).add(value=value, weight=0.8)
        _, v_pref = utilities(CATALOG, cand, pref)
        match = getattr(CATALOG, attr) == value
        assert match.any()
        assert np.all(v_pref[match] > v_plain[match])
        assert np.allclose(v_pref[~match], v_plain[~match])
    # price anchor: products near the anchor gain relative to far ones
    pref = optimization_pb2.Preferences(price_anchor=100.0)
    _, v_anchor = utilities(CATALOG, cand, pref)
    ratio = v_anchor / v_plain
    near, far = np.abs(np.log(CATALOG.price / 100.0)) < 0.2, np.abs(np.log(CATALOG.price / 100.0)) > 1.5
    assert ratio[near].min() > ratio[far].max()

    # end to end: a brand preference puts more of that brand into the assortment, with more probability
    base, c0 = recommend(CATALOG, _request(k=8))
    req = _request(k=8)
    req.preferences.brands.add(value="Fjord", weight=1.0)
    pref_a, c1 = recommend(CATALOG, req)

    def fjord_prob(a, c):
        return sum(p for i, p in zip(a.catalog_indices(c), a.choice_probabilities, strict=True)
                   if CATALOG.products[i].brand == "Fjord")

    assert fjord_prob(pref_a, c1) > fjord_prob(base, c0)


def test_margin_objective_uses_price_times_margin():
    cand = np.arange(10)
    r, _ = utilities(CATALOG, cand, optimization_pb2.Preferences(), optimization_pb2.OBJECTIVE_EXPECTED_MARGIN)
    assert np.allclose(r, CATALOG.price[:10] * CATALOG.margin[:10])


def test_panel_keeps_to_the_rating_level_of_the_viewed_products(monkeypatch):
    """A shopper who opened only well-rated products gets a panel of well-rated ones, even before enough views
    exist for a hard rating floor: without the level, revenue maximisation filled the panel with the dearest
    products of the type, however badly rated (held-out `rated-colour`: 1 of 8 right for 18 s)."""
    cat = make_catalog(960, seed=3)
    laptops = [p for p in cat.products if p.category == "Laptops"]
    viewed = max((p for p in laptops if p.rating == 4.6), key=lambda p: p.price)
    req = _request(k=8, categories=["Laptops"], exclude_product_ids=[viewed.product_id])
    req.preferences.price_anchor = viewed.price
    req.summary.viewed_products.add(product_id=viewed.product_id, category="Laptops", price=viewed.price)
    a, c = recommend(cat, req)
    ratings = [cat.products[i].rating for i in a.catalog_indices(c)]
    assert len(ratings) == 8
    # without the level: two products rated 4.0 and three at 4.5 or better; with it, none below 4.4 and five
    assert min(ratings) > viewed.rating - 0.5, ratings
    assert sum(r >= viewed.rating - 0.1 for r in ratings) >= 5, ratings
    # the level is a soft preference: a product rated half a star below the level is about exp(-2) as attractive
    # as its twin at the level, and nothing changes above the level
    rows = np.array([cat.index[p.product_id] for p in laptops])
    seen = np.array([cat.index[viewed.product_id]])
    _, v_level = utilities(cat, rows, optimization_pb2.Preferences(), viewed=seen)
    monkeypatch.setattr(attraction, "LEVEL_COEF", 0.0)
    _, v_plain = utilities(cat, rows, optimization_pb2.Preferences(), viewed=seen)
    below = np.maximum(viewed.rating - 0.1 - cat.rating[rows], 0.0)
    assert np.allclose(v_level / v_plain, np.exp(-4.0 * below))
    assert (below >= 0.5).any()
