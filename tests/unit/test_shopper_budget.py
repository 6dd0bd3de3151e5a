"""One budget tolerance for both scripted-shopper packages: the e2e scenarios and the evaluation's personas judge
a recommended price alike (before: 15 % in scenarios.py, 10 % in personas.py)."""

from __future__ import annotations

import dataclasses

from services.shoppers.budget import BUDGET_TOLERANCE, within_budget
from services.shoppers.personas import Wants
from services.shoppers.scenarios import Preference
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(60)


def test_scenarios_and_personas_accept_the_same_prices_around_a_budget():
    base = CATALOG.products[0]
    pref = Preference("price", base.category, price_min=100.0, price_max=140.0)
    wants = Wants(category=base.category, price_min=100.0, price_max=140.0)
    for price, expected in ((140 * 1.08, True), (140 * 1.12, False), (100 * 0.92, True), (100 * 0.88, False),
                            (120.0, True)):
        p = dataclasses.replace(base, price=round(price, 2))
        assert pref.matches(p) is wants.fits(p) is expected, price
        assert within_budget(p.price, 100.0, 140.0) is expected
    # strictly inside is what both shoppers open
    edge = dataclasses.replace(base, price=141.0)
    assert not pref.wants(edge) and not wants.wants(edge) and BUDGET_TOLERANCE == 0.10
