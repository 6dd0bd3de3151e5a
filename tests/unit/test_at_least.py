"""`Constraints.at_least` groups (a hedge between readings of the shopper): the optimizer keeps at least `count`
items of each group and is otherwise revenue-optimal, checked against enumeration on small candidate sets."""

from __future__ import annotations

import numpy as np
import pytest

from interarec.v1 import optimization_pb2
from services.core.assortment.brute_force import brute_force
from services.core.assortment.mnl import solve_request
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(480, seed=11)


def _request(category: str, lo: float, hi: float, k: int) -> optimization_pb2.OptimizationRequest:
    request = optimization_pb2.OptimizationRequest(session_id="s", k=k,
                                                   objective=optimization_pb2.OBJECTIVE_EXPECTED_REVENUE)
    request.constraints.categories.append(category)
    request.constraints.price_min, request.constraints.price_max = lo, hi
    return request


def _small_cases():
    """(category, price band holding 8-14 candidates, k) for each category of the catalog."""
    for category in CATALOG.categories:
        prices = np.sort(CATALOG.price[CATALOG.category == category])
        for start in (len(prices) // 3,):
            window = prices[start:start + 12]
            yield category, float(window[0]), float(window[-1]), 4


CASES = list(_small_cases())


@pytest.mark.parametrize("case", range(len(CASES)))
def test_at_least_groups_are_met_and_the_rest_is_revenue_optimal(case):
    category, lo, hi, k = CASES[case]
    plain = solve_request(CATALOG, _request(category, lo, hi, k))
    rows = plain.candidates
    assert 8 <= rows.size <= 14
    offered = set(rows[list(plain.assortment.indices)].tolist())
    # Hedge on the brand and the colour the plain answer uses least: the groups must move items.
    brands = CATALOG.brand[rows]
    colours = CATALOG.colour[rows]
    brand = min(set(brands.tolist()), key=lambda b: (sum(CATALOG.brand[i] == b for i in offered), b))
    colour = min(set(colours.tolist()), key=lambda c: (sum(CATALOG.colour[i] == c for i in offered), c))
    request = _request(category, lo, hi, k)
    request.constraints.at_least.add(count=2, brands=[brand])
    request.constraints.at_least.add(count=2, colours=[colour])
    hedged = solve_request(CATALOG, request)
    chosen = rows[list(hedged.assortment.indices)]
    # counted from the catalog, not from the solver's own rows
    assert sum(CATALOG.brand[i] == brand for i in chosen) >= min(2, int((brands == brand).sum()))
    assert sum(CATALOG.colour[i] == colour for i in chosen) >= min(2, int((colours == colour).sum()))
    assert len(chosen) <= k
    best = brute_force(hedged.problem)
    assert hedged.assortment.expected_revenue == pytest.approx(best.expected_revenue, rel=1e-6, abs=1e-12)
    assert any("at_least" in note for note in hedged.shaping)


def test_at_least_needs_more_than_the_candidates_hold_is_lowered_and_said():
    category, lo, hi, k = CASES[0]
    request = _request(category, lo, hi, k)
    request.constraints.at_least.add(count=3, brands=["NoSuchBrand"])
    request.constraints.at_least.add(count=k, categories=[category], price_max=lo)  # one product at most
    solved = solve_request(CATALOG, request)
    assert len(solved.assortment.indices) > 0
    chosen = solved.candidates[list(solved.assortment.indices)]
    assert any(CATALOG.price[i] <= lo for i in chosen)
    assert any("0 among the candidates" in note for note in solved.shaping)


def test_at_least_price_group_pulls_cheaper_items_in():
    """Revenue maximisation leans to dear items; a price group keeps half the panel at the shopper's level."""
    category = CATALOG.categories[0]
    prices = np.sort(CATALOG.price[CATALOG.category == category])
    request = optimization_pb2.OptimizationRequest(session_id="s", k=8,
                                                   objective=optimization_pb2.OBJECTIVE_EXPECTED_REVENUE)
    request.constraints.categories.append(category)
    plain = solve_request(CATALOG, request)
    cheap_top = float(prices[len(prices) // 4])
    plain_cheap = sum(CATALOG.price[i] <= cheap_top for i in plain.candidates[list(plain.assortment.indices)])
    assert plain_cheap < 4  # else the test proves nothing
    request.constraints.at_least.add(count=4, price_max=cheap_top)
    hedged = solve_request(CATALOG, request)
    assert sum(CATALOG.price[i] <= cheap_top for i in hedged.candidates[list(hedged.assortment.indices)]) >= 4


def test_validate_request_names_what_is_wrong_with_a_group():
    from services.core.decompose.repair import validate_request

    category, lo, hi, k = CASES[0]
    request = _request(category, lo, hi, k)
    request.constraints.at_least.add(count=2, brands=[CATALOG.brands[0]], price_min=lo, price_max=hi)
    assert validate_request(request, CATALOG) == []
    request.constraints.at_least.add(count=k + 1, brands=["NoSuchBrand"], price_min=hi, price_max=lo)
    request.constraints.at_least.add(count=1, price_min=float("nan"))
    problems = validate_request(request, CATALOG)
    assert any("at_least[1]: count=" in p for p in problems)
    assert any("'NoSuchBrand' is not a catalog brand" in p for p in problems)
    assert any("at_least[1]: price range" in p for p in problems)
    assert any("at_least[2]: price range" in p for p in problems)
    solved = solve_request(CATALOG, request)  # the optimizer still answers: bad groups constrain nothing
    assert len(solved.assortment.indices) > 0


@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_group_that_cannot_be_met_beside_the_ones_before_is_lowered_not_dropped(case):
    """Three groups needing more items than the panel holds: the last keeps as many as fit (checked by
    enumeration: one more is infeasible, and the answer is the best with that many), instead of none."""
    from dataclasses import replace

    from services.core.assortment.problem import InfeasibleError

    category, lo, hi, k = CASES[case]
    plain = solve_request(CATALOG, _request(category, lo, hi, k))
    rows = plain.candidates
    offered = set(rows[list(plain.assortment.indices)].tolist())
    brands = CATALOG.brand[rows]
    counts = {b: int((brands == b).sum()) for b in set(brands.tolist())}
    # the brand the plain answer uses least, of those with two candidates: dropping its group would lose it
    usable = sorted((b for b, n in counts.items() if n >= 2),
                    key=lambda b: (sum(CATALOG.brand[i] == b for i in offered), b))
    if len(usable) < 3:
        pytest.skip("fewer than three brands with two candidates")
    last, first, second = usable[0], usable[-1], usable[-2]
    request = _request(category, lo, hi, k)
    request.constraints.at_least.add(count=2, brands=[first])
    request.constraints.at_least.add(count=k - 3, brands=[second])
    request.constraints.at_least.add(count=2, brands=[last])  # 2 + (k - 3) + 2 = k + 1 items: one too many
    solved = solve_request(CATALOG, request)
    chosen = rows[list(solved.assortment.indices)]
    assert sum(CATALOG.brand[i] == first for i in chosen) >= 2
    assert sum(CATALOG.brand[i] == second for i in chosen) >= k - 3
    assert sum(CATALOG.brand[i] == last for i in chosen) >= 1  # dropping the group gave it none
    assert any("lowered to 1" in note for note in solved.shaping)
    best = brute_force(solved.problem)
    assert solved.assortment.expected_revenue == pytest.approx(best.expected_revenue, rel=1e-6, abs=1e-12)
    stricter = replace(solved.problem, rows=(*solved.problem.rows[:-1], replace(solved.problem.rows[-1], lo=2.0)))
    with pytest.raises(InfeasibleError):
        brute_force(stricter)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_rating_group_is_met_and_the_rest_is_revenue_optimal(case):
    """`AtLeast.min_rating`: at least `count` offered items rated that well (counted from the catalog), the rest
    revenue-optimal (enumeration); before the field existed a hedge could not keep to a rating at all."""
    category, lo, hi, k = CASES[case]
    plain = solve_request(CATALOG, _request(category, lo, hi, k))
    rows = plain.candidates
    offered = rows[list(plain.assortment.indices)]
    # a brand the plain answer leaves out, kept to its own better-rated half: the group must move items
    missing = sorted(set(CATALOG.brand[rows].tolist()) - set(CATALOG.brand[offered].tolist()))
    if not missing:
        pytest.skip("the plain answer holds every brand")
    brand = missing[0]
    ratings = np.sort(CATALOG.rating[rows][CATALOG.brand[rows] == brand])
    rating = float(ratings[len(ratings) // 2])
    count = min(2, int((ratings >= rating).sum()))
    fits = (CATALOG.brand == brand) & (CATALOG.rating >= rating)
    request = _request(category, lo, hi, k)
    request.constraints.at_least.add(count=count, brands=[brand], min_rating=rating)
    hedged = solve_request(CATALOG, request)
    chosen = rows[list(hedged.assortment.indices)]
    assert fits[chosen].sum() >= count
    best = brute_force(hedged.problem)
    assert hedged.assortment.expected_revenue == pytest.approx(best.expected_revenue, rel=1e-6, abs=1e-12)
    assert any(f"rating>={rating:g}" in note for note in hedged.shaping)


def test_a_group_without_a_rating_reads_as_any_rating_and_a_bad_rating_is_named():
    from services.core.decompose.repair import validate_request

    category, lo, hi, k = CASES[0]
    group = optimization_pb2.AtLeast(count=2, brands=[CATALOG.brands[0]])
    assert not optimization_pb2.AtLeast.FromString(group.SerializeToString()).HasField("min_rating")
    request = _request(category, lo, hi, k)
    request.constraints.at_least.add(count=1, min_rating=6.0)
    assert any("at_least[0]: min_rating=6 outside [0, 5]" in p for p in validate_request(request, CATALOG))
