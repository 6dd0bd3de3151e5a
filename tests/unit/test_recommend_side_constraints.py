"""Request -> assortment with side constraints: caps, diversity, pins and exclusions hold, unreachable
constraints are relaxed and said so, and every item says why it is there."""

from __future__ import annotations

import pytest

from interarec.v1 import optimization_pb2
from services.core.assortment.mnl import explain, solve_request
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240, seed=1)


def request(**constraints) -> optimization_pb2.OptimizationRequest:
    req = optimization_pb2.OptimizationRequest(session_id="s", tenant="t", k=8)
    for name, value in constraints.items():
        if isinstance(value, list):
            getattr(req.constraints, name).extend(value)
        else:
            setattr(req.constraints, name, value)
    return req


@pytest.mark.parametrize("solver", ["threshold", "highs"])
def test_caps_diversity_pins_and_exclusions_hold(solver):
    pinned = next(p for p in CATALOG.products if p.category == "Keyboards" and p.brand == "Cobalt")
    req = request(categories=["Laptops", "Cameras"], max_per_brand=1, min_distinct_brands=6,
                  include_product_ids=[pinned.product_id], exclude_brands=["Acme"])
    req.preferences.brands.add(value="Fjord", weight=1.0)
    s = solve_request(CATALOG, req, solver=solver)
    items = [CATALOG.products[i] for i in s.assortment.catalog_indices(s.candidates)]
    brands = [p.brand for p in items]
    assert pinned in items  # a pin bypasses the category filter
    assert len(set(brands)) == len(brands) >= 6 and "Acme" not in brands
    assert s.assortment.status == "optimal"
    assert "max_per_brand=1" in s.shaping and "exclude_brands: Acme" in s.shaping
    reasons = explain(CATALOG, req, s)
    assert len(reasons) == len(items)
    assert sum(r.expected_revenue_contribution for r in reasons) == pytest.approx(s.assortment.expected_revenue)
    by_id = dict(zip([p.product_id for p in items], reasons, strict=True))
    assert "pinned (include_product_ids)" in by_id[pinned.product_id].rules
    assert any("brand Fjord" in r.matched_preferences for r in reasons)
    assert all("chance of being chosen" in r.text for r in reasons)


def test_unreachable_constraints_are_relaxed_and_reported():
    req = request(brands=["Acme", "Borealis"], min_distinct_brands=5, include_product_ids=["nope"])
    s = solve_request(CATALOG, req)
    assert len({CATALOG.products[i].brand for i in s.assortment.catalog_indices(s.candidates)}) == 2
    assert any(x.startswith("min_distinct_brands 5 relaxed to 2") for x in s.shaping)
    assert any("nope" in x for x in s.shaping)
    with pytest.raises(ValueError):
        solve_request(CATALOG, request(max_per_brand=0))


def test_objectives():
    base = request()
    rev = solve_request(CATALOG, base)
    base.objective = optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY
    prob = solve_request(CATALOG, base)
    # purchase probability: the K most attractive products, more likely to sell, less revenue
    assert prob.assortment.no_purchase_probability <= rev.assortment.no_purchase_probability
    base.objective = optimization_pb2.OBJECTIVE_BLEND
    base.revenue_weight = 1.0
    assert solve_request(CATALOG, base).assortment.indices == rev.assortment.indices
    base.revenue_weight = 1.5
    with pytest.raises(ValueError):
        solve_request(CATALOG, base)
