"""Rules decomposer: summary -> grounded, satisfiable OptimizationRequest."""

from __future__ import annotations

from collections import Counter

import pytest

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Product
from services.core.decompose.repair import K_MAX, repair_request, validate_request
from services.core.decompose.rules import decompose
from services.core.decompose.thresholds import PRICE_BAND_STEP, PRICE_WIDEN_FACTOR
from services.core.reading import filters as chips
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240, seed=2)


def pick(n: int, taken: set[str] | None = None, **attrs) -> list[Product]:
    """First n catalog products with the given attributes, each from a different category when possible."""
    taken = set() if taken is None else taken
    out: list[Product] = []
    cats: set[str] = set()
    for distinct in (True, False):
        for p in CATALOG.products:
            if len(out) == n:
                return out
            if p.product_id in taken or any(getattr(p, k) != v for k, v in attrs.items()):
                continue
            if distinct and p.category in cats:
                continue
            out.append(p)
            taken.add(p.product_id)
            cats.add(p.category)
    assert len(out) == n, f"catalog has fewer than {n} products with {attrs}"
    return out


def summary_of(products: list[Product], session: str = "s-1", **overrides) -> summaries_pb2.BehaviourSummary:
    """A summary as the summarizer writes it: weights are shares of the viewed products."""
    s = summaries_pb2.BehaviourSummary(session_id=session, tenant="demo", window_seq=7, backend="embedded")
    s.trace.capture_unix_ms = 1234
    n = len(products)
    for field, attr in (("brands", "brand"), ("product_types", "category"), ("colours", "colour")):
        if field in overrides:
            for value, weight in overrides[field]:
                getattr(s, field).add(value=value, weight=weight)
            continue
        for value, count in Counter(getattr(p, attr) for p in products).most_common():
            getattr(s, field).add(value=value, weight=count / n)
    for p in products:
        s.viewed_products.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                              colour=p.colour, price=p.price, frames=2, confidence=0.9)
    if products:
        s.price_range.low = min(p.price for p in products)
        s.price_range.high = max(p.price for p in products)
    return s


def candidates(req: optimization_pb2.OptimizationRequest) -> int:
    c = req.constraints
    return int(CATALOG.mask(
        categories=list(c.categories), brands=list(c.brands), colours=list(c.colours),
        price_min=c.price_min if c.HasField("price_min") else None,
        price_max=c.price_max if c.HasField("price_max") else None,
        min_rating=c.min_rating if c.HasField("min_rating") else None,
        exclude_ids=list(c.exclude_product_ids)).sum())


def test_brand_heavy_summary_gives_brand_constraint_and_excludes_viewed():
    viewed = pick(1, brand="Acme") + pick(3, brand="Fjord")  # views are oldest first
    summary = summary_of(viewed)
    req = decompose(summary, CATALOG, k=8)
    assert list(req.constraints.brands) == ["Fjord"]  # Acme at 0.25 is below the companion weight
    assert set(req.constraints.exclude_product_ids) == {p.product_id for p in viewed}
    assert not req.constraints.categories  # each category was seen once
    assert req.session_id == "s-1" and req.tenant == "demo" and req.window_seq == 7
    assert req.backend == "rules" and req.objective == optimization_pb2.OBJECTIVE_EXPECTED_REVENUE
    assert req.summary == summary and req.trace.capture_unix_ms == 1234
    assert {t.value for t in req.preferences.brands} == {"Fjord", "Acme"}
    assert req.preferences.price_anchor > 0
    assert candidates(req) >= 8
    assert validate_request(req, CATALOG) == []


def test_companion_brand_joins_a_hard_brand():
    # a second taste needs two views, as the first does (one view of it is a glance: test_rules_glances.py)
    viewed = pick(3, brand="Fjord") + pick(2, brand="Acme")
    req = decompose(summary_of(viewed), CATALOG)  # Fjord 0.6, Acme 0.4
    assert list(req.constraints.brands) == ["Fjord", "Acme"]


def test_colour_heavy_summary_gives_colour_constraint():
    viewed = [pick(1, colour="gold", brand=b)[0] for b in ("Fjord", "Granite", "Helix")]
    req = decompose(summary_of(viewed), CATALOG)
    assert list(req.constraints.colours) == ["gold"]
    assert not req.constraints.brands
    assert candidates(req) >= 8


def test_single_view_makes_its_product_type_hard():
    # One view is the shopper's current intent: its product type is hard at once (an unconstrained panel after
    # the first view showed other types for a whole view). Its brand and colour are hard only where they still
    # fill the panel within that type; they stay the strongest soft preferences either way.
    viewed = pick(1, brand="Fjord")
    req = decompose(summary_of(viewed), CATALOG)
    assert list(req.constraints.categories) == [viewed[0].category]
    assert [t.value for t in req.preferences.brands] == ["Fjord"]
    assert candidates(req) >= 8


def test_a_browsed_listing_makes_its_product_type_hard_before_any_view():
    # A category listing with nothing opened yet: the type was only a soft preference, and revenue filled the panel
    # with the catalog's dearest products of other types (a backpacks listing showed $740-895 watches) until the
    # first product view's panel arrived. The listing's brands and colours stay soft: a listing shows many.
    from services.core.assortment.mnl import solve_request

    for category in CATALOG.categories:
        summary = summary_of([], product_types=[(category, 1.0)], brands=[("Fjord", 0.3)], colours=[("gold", 0.3)])
        req = decompose(summary, CATALOG, k=8)
        assert list(req.constraints.categories) == [category]
        assert not req.constraints.brands and not req.constraints.colours
        solved = solve_request(CATALOG, req)
        assert all(CATALOG.category[solved.candidates[i]] == category for i in solved.assortment.indices)
    # two listings browsed as much: both types; a glance at one among several: none
    first, second = CATALOG.categories[:2]
    two = decompose(summary_of([], product_types=[(first, 0.5), (second, 0.5)]), CATALOG)
    few = decompose(summary_of([], product_types=[(c, 0.25) for c in CATALOG.categories[:4]]), CATALOG)
    assert sorted(two.constraints.categories) == [first, second]
    assert not few.constraints.categories


def test_unknown_brand_is_dropped_with_a_relaxation():
    viewed = pick(3, brand="Fjord")
    summary = summary_of(viewed, brands=[("Zorblax", 0.8), ("fjord", 0.6)])
    req = decompose(summary, CATALOG)
    reasons = [r for r in req.relaxations if r.constraint == "brands"]
    assert len(reasons) == 1 and "not in catalog" in reasons[0].reason and "Zorblax" in reasons[0].reason
    assert list(req.constraints.brands) == ["Fjord"]  # grounded to the catalog spelling
    assert "Zorblax" not in {t.value for t in req.preferences.brands}
    assert validate_request(req, CATALOG) == []


def test_contradiction_relaxes_the_least_supported_constraint_first():
    # Fjord makes no black products. Black is on the two newest views (recency-weighted support 0.67), the
    # Headphones on the second and the newest (0.59), Fjord on the two oldest (0.33): black is kept, and the
    # product type and brand, which leave no black candidate beside it, go (in the order they were tried).
    viewed = pick(2, brand="Fjord") + pick(1, brand="Acme", colour="black") + pick(1, brand="Helix", colour="black")
    req = decompose(summary_of(viewed), CATALOG, k=8)
    assert [r.constraint for r in req.relaxations] == ["categories", "brands"]
    assert list(req.constraints.colours) == ["black"]
    assert not req.constraints.categories and not req.constraints.brands
    assert "only 0 candidates" in req.relaxations[1].reason
    assert candidates(req) >= 8
    assert validate_request(req, CATALOG) == []


def test_a_colour_seen_on_most_views_outlives_a_brand_seen_on_few():
    viewed = pick(3, colour="black") + pick(1, brand="Fjord")  # black on 3 of 4 views, Fjord on 1
    req = optimization_pb2.OptimizationRequest(session_id="s", k=8, summary=summary_of(viewed))
    req.constraints.brands.append("Fjord")
    req.constraints.colours.append("black")  # Fjord makes no black products: one of them must go
    repair_request(req, CATALOG)
    assert list(req.constraints.colours) == ["black"]
    assert [r.constraint for r in req.relaxations] == ["brands"]


def test_relaxation_keeps_the_stated_constraint_and_restores_unneeded_steps():
    def request(stated: tuple[str, str] | None):
        req = optimization_pb2.OptimizationRequest(session_id="s", k=8)
        req.constraints.brands.append("Fjord")
        req.constraints.colours.append("black")  # impossible with Fjord
        req.constraints.min_rating = 3.0  # harmless on its own
        if stated:
            req.summary.ui_filter_fields.append(chips.to_ui_filter(chips.term(*stated)))
        return repair_request(req, CATALOG)

    for stated, kept, dropped in ((("brand", "Fjord"), "brands", "colours"),
                                  (("colour", "black"), "colours", "brands")):
        req = request(stated)
        assert list(getattr(req.constraints, kept)) and not getattr(req.constraints, dropped), stated
        assert req.constraints.HasField("min_rating")  # dropped on the way, then put back: it was not the cause
        assert [r.constraint for r in req.relaxations] == [dropped]
        assert candidates(req) >= 8


def test_everything_relaxed_when_catalog_cannot_fill_k():
    req = optimization_pb2.OptimizationRequest(session_id="s", k=K_MAX)
    req.constraints.brands.append("Fjord")
    req.constraints.categories.append("Cameras")
    repair_request(req, CATALOG)
    assert [r.constraint for r in req.relaxations] == ["categories", "brands"]  # considered in this order
    assert not req.constraints.brands and candidates(req) >= K_MAX


def test_price_band_rule():
    laptops = sorted((p for p in CATALOG.products if p.category == "Laptops"), key=lambda p: p.price)
    lo = laptops[len(laptops) // 2]
    band = [p for p in laptops if lo.price <= p.price <= lo.price * 1.5][:3]
    assert len(band) == 3
    req = decompose(summary_of(band), CATALOG)
    prices = [p.price for p in band]
    # the run's ends widened by its spread / (n - 1); then, as too few laptops fit, in PRICE_BAND_STEP steps
    spread = (max(prices) - min(prices)) / 2
    tight = (round(min(prices) - spread, 2), round(max(prices) + spread, 2))
    steps = [(round(tight[0] / PRICE_BAND_STEP ** j, 2), round(tight[1] * PRICE_BAND_STEP ** j, 2))
             for j in range(40) if PRICE_BAND_STEP ** j < PRICE_WIDEN_FACTOR]
    first_fit = next(s for s in steps if candidates_in(req, s) >= 8)
    assert (req.constraints.price_min, req.constraints.price_max) == pytest.approx(first_fit, abs=0.01)
    assert req.preferences.price_anchor == pytest.approx(sorted(prices)[1])

    # one far-off view does not break the band (3 of 4 are still in it) ...
    cheap = pick(1, category="Keyboards")
    req = decompose(summary_of(cheap + band), CATALOG)  # (an older view: the newest views weigh most)
    assert req.constraints.price_max == pytest.approx(first_fit[1], abs=0.01)
    # ... but a spread of prices gives no band
    spread = pick(1, category="Keyboards") + pick(1, category="Monitors") + pick(1, category="Laptops")
    req = decompose(summary_of(spread), CATALOG)
    assert not req.constraints.HasField("price_min") and not req.constraints.HasField("price_max")
    # two views are too few when two random laptops would often be that close in price
    req = decompose(summary_of(band[:2]), CATALOG)
    assert not req.constraints.HasField("price_min")


def candidates_in(req: optimization_pb2.OptimizationRequest, band: tuple[float, float]) -> int:
    c = req.constraints
    return int(CATALOG.mask(categories=list(c.categories), brands=list(c.brands), colours=list(c.colours),
                            price_min=band[0], price_max=band[1],
                            min_rating=c.min_rating if c.HasField("min_rating") else None,
                            exclude_ids=list(c.exclude_product_ids)).sum())


def test_min_rating_is_inferred_from_what_was_viewed():
    """A shopper who opens only highly rated products gets their own floor, not a fixed 3.8."""
    top = sorted(CATALOG.products, key=lambda p: -p.rating)[:4]  # ratings near 5: unlikely by chance
    req = decompose(summary_of(top), CATALOG)
    floor = min(p.rating for p in top)
    assert floor >= 4.8 and req.constraints.min_rating == pytest.approx(floor - 0.1)
    # ratings the catalog commonly has are no habit: opening three of them is likely by chance
    common = [p for p in CATALOG.products if 3.4 <= p.rating <= 3.8][:3]
    req = decompose(summary_of(common), CATALOG)
    assert not req.constraints.HasField("min_rating")


def test_empty_summary_is_a_popular_diverse_cold_start():
    summary = summaries_pb2.BehaviourSummary(session_id="s-empty", window_seq=1)
    req = decompose(summary, CATALOG)
    c = req.constraints
    assert not (c.brands or c.categories or c.colours or c.exclude_product_ids)
    assert not (c.HasField("price_min") or c.HasField("price_max") or c.HasField("min_rating"))
    assert req.objective == optimization_pb2.OBJECTIVE_PURCHASE_PROBABILITY and c.max_per_brand == 1
    assert len(req.relaxations) == 0
    assert req.k == 8 and req.session_id == "s-empty"
    assert validate_request(req, CATALOG) == []


@pytest.mark.parametrize(("k", "expected"), [(0, 1), (-5, 1), (1, 1), (8, 8), (50, 50), (51, 50), (10_000, 50)])
def test_k_bounds(k, expected):
    req = decompose(summaries_pb2.BehaviourSummary(session_id="s"), CATALOG, k=k)
    assert req.k == expected


def test_validate_and_repair_a_bad_request():
    req = optimization_pb2.OptimizationRequest(session_id="s", k=99, backend="vllm")
    req.constraints.brands.extend(["Zorblax", "fjord"])
    req.constraints.price_min = 900
    req.constraints.price_max = 100
    req.constraints.min_rating = 7
    req.constraints.exclude_product_ids.append("NOPE")
    req.preferences.colours.add(value="purple", weight=2.0)
    req.preferences.price_anchor = -1
    problems = validate_request(req, CATALOG)
    text = "\n".join(problems)
    for needle in ("k=99", "Zorblax", "fjord", "price_min=900 > price_max=100", "min_rating=7", "NOPE",
                   "purple", "price_anchor", "objective"):
        assert needle in text, needle
    repair_request(req, CATALOG)
    assert validate_request(req, CATALOG) == []
    assert req.k == K_MAX
    # "fjord" was grounded to "Fjord", but Fjord alone has fewer than k=50 products, so it went last
    assert not req.constraints.brands
    assert any("brands=['Fjord']" in r.reason for r in req.relaxations if r.constraint == "brands")
    assert 0 < req.constraints.price_min <= req.constraints.price_max  # swapped, and kept: it was not the cause
    assert {r.constraint for r in req.relaxations} >= {"k", "brands", "price_band", "min_rating"}


def test_viewed_products_without_summary_weights_still_drive_rules():
    viewed = pick(3, brand="Cobalt")
    summary = summary_of(viewed, brands=[], product_types=[], colours=[])
    req = decompose(summary, CATALOG)
    assert list(req.constraints.brands) == ["Cobalt"]


# --- the one relaxation order (repair.TIERS): exclusions guessed by a model, then inferred, then stated ---

def test_a_stated_filter_outlasts_an_inferred_constraint_with_stronger_evidence():
    # Every view is black, none is Fjord (which makes no black products): by evidence alone black wins, but
    # the shopper set the Fjord filter themselves, and what the shopper said outlasts what was read off views.
    viewed = pick(4, colour="black")
    req = optimization_pb2.OptimizationRequest(session_id="s", k=8, summary=summary_of(viewed))
    req.constraints.brands.append("Fjord")
    req.constraints.colours.append("black")
    req.summary.ui_filter_fields.append(chips.to_ui_filter(chips.term("brand", "Fjord")))
    repair_request(req, CATALOG)
    assert list(req.constraints.brands) == ["Fjord"] and not req.constraints.colours
    assert [r.constraint for r in req.relaxations] == ["colours"]
    # without the filter, the views decide: black stays, Fjord goes
    plain = optimization_pb2.OptimizationRequest(session_id="s", k=8, summary=summary_of(viewed))
    plain.constraints.brands.append("Fjord")
    plain.constraints.colours.append("black")
    repair_request(plain, CATALOG)
    assert list(plain.constraints.colours) == ["black"] and not plain.constraints.brands


def test_a_brand_exclusion_is_given_up_before_an_inferred_product_type():
    laptops = [p for p in CATALOG.products if p.category == "Laptops"]
    req = optimization_pb2.OptimizationRequest(session_id="s", k=8, summary=summary_of(laptops[:4]))
    req.constraints.categories.append("Laptops")
    req.constraints.exclude_brands.extend(b for b in CATALOG.brands if b != "Acme")  # too few Acme laptops
    repair_request(req, CATALOG)
    assert list(req.constraints.categories) == ["Laptops"] and not req.constraints.exclude_brands
    assert [r.constraint for r in req.relaxations] == ["exclude_brands"]
    assert "exclude_brands=" in req.relaxations[0].reason and validate_request(req, CATALOG) == []


def test_products_already_seen_are_never_shown_again_to_fill_the_panel():
    # The shopper has seen all but two Acme products: the panel drops the brand (Acme still ranks first as a
    # soft preference) rather than repeat what was seen.
    acme = [p for p in CATALOG.products if p.brand == "Acme"]
    req = optimization_pb2.OptimizationRequest(session_id="s", k=8, summary=summary_of(acme[-4:]))
    req.constraints.brands.append("Acme")
    req.constraints.exclude_product_ids.extend(p.product_id for p in acme[:-2])
    repair_request(req, CATALOG)
    assert not req.constraints.brands and len(req.constraints.exclude_product_ids) == len(acme) - 2
    assert [r.constraint for r in req.relaxations] == ["brands"] and candidates(req) >= 8
