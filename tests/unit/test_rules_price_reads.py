"""Rules decomposer, price readings: views too far apart for a band that all lie in one end of their type's prices
make a one-sided budget (held-out draw 4 `intent-cheap-to-luxury`). Synthetic sessions through the real summarizer
and rules decomposer."""

from __future__ import annotations

from interarec.v1 import summaries_pb2
from services.core.assortment.mnl import recommend
from services.core.decompose.rules import decompose
from services.core.decompose.thresholds import PRICE_BAND_MAX_RATIO, PRICE_END_SHARE
from tests.unit.test_rules_evidence import CATALOG, _adjacent_in_price, session_summary


def _spread_within(category: str, start: float, end: float, n: int = 3):
    """n products of a type between two price quantiles, the cheapest and dearest of that stretch among them: too
    far apart for a band when the stretch spans more than PRICE_BAND_MAX_RATIO."""
    ranked = sorted((p for p in CATALOG.products if p.category == category), key=lambda p: p.price)
    part = ranked[int(len(ranked) * start):int(len(ranked) * end)]
    picked = [part[0], part[len(part) // 2], part[-1]][:n]
    assert picked[-1].price > picked[0].price * PRICE_BAND_MAX_RATIO
    return picked, [p.price for p in ranked]


def test_three_views_in_the_cheapest_quarter_make_a_one_sided_budget():
    viewed, prices = _spread_within("Keyboards", 0.0, PRICE_END_SHARE - 0.01)
    c = decompose(session_summary(viewed), CATALOG, k=4).constraints
    assert not c.HasField("price_min")
    assert c.HasField("price_max") and c.price_max >= max(p.price for p in viewed)
    assert c.price_max < prices[len(prices) // 2]  # "cheap": well below the type's median


def test_three_views_in_the_dearest_quarter_make_a_price_floor():
    viewed, prices = _spread_within("Keyboards", 1 - PRICE_END_SHARE + 0.01, 1.0)
    c = decompose(session_summary(viewed), CATALOG, k=4).constraints
    assert not c.HasField("price_max")
    assert c.HasField("price_min") and c.price_min <= min(p.price for p in viewed)
    assert c.price_min > prices[len(prices) // 2]


def test_views_spread_over_the_cheaper_half_make_no_budget():
    # The cheaper half is no end: a shopper who opens well-rated products opens cheap ones that often by chance.
    viewed, _ = _spread_within("Keyboards", 0.05, 0.45)
    c = decompose(session_summary(viewed), CATALOG, k=4).constraints
    assert not c.HasField("price_min") and not c.HasField("price_max")


def _sorted(summary, order=summaries_pb2.SORT_ORDER_PRICE_ASC):
    summary.listing_sort_order = order
    return summary


def test_a_sort_by_price_keeps_only_the_sorted_side_of_the_band():
    # Three keyboards at adjacent prices make a band; sorted cheapest first, nothing cheaper is out of the budget (the
    # sort put it first), and a fourth view dearer than the band, still cheap, fits it.
    viewed = [*_adjacent_in_price("Keyboards", 3, start=0.1), *_adjacent_in_price("Keyboards", 1, start=0.3)]
    c = decompose(session_summary(viewed), CATALOG, k=4).constraints
    assert c.HasField("price_min") and c.price_max < viewed[-1].price  # unsorted: the band of the three
    c = decompose(_sorted(session_summary(viewed)), CATALOG, k=4).constraints
    assert not c.HasField("price_min") and c.price_max == viewed[-1].price


def test_a_view_the_price_sort_does_not_explain_sets_no_bound():
    # A dear keyboard glanced at, then three cheap ones sorted cheapest first: the budget ends at the dearest of the
    # three; the glance, in the dearer half the sort puts last, does not stretch it.
    cheap = _adjacent_in_price("Keyboards", 3, start=0.1)
    viewed = [*_adjacent_in_price("Keyboards", 1, start=0.9), *cheap]
    c = decompose(_sorted(session_summary(viewed)), CATALOG, k=4).constraints
    assert not c.HasField("price_min") and c.price_max == max(p.price for p in cheap)


def test_a_sort_by_the_dearest_first_keeps_only_the_lower_side():
    viewed = [*_adjacent_in_price("Keyboards", 3, start=0.8), *_adjacent_in_price("Keyboards", 1, start=0.6)]
    c = decompose(_sorted(session_summary(viewed), summaries_pb2.SORT_ORDER_PRICE_DESC), CATALOG, k=4).constraints
    assert not c.HasField("price_max") and c.price_min == viewed[-1].price


def test_a_sort_by_price_the_views_follow_outweighs_a_colour_on_most_views():
    # Four cameras in the cheaper half, three of them white, sorted cheapest first: white and the budget cannot both
    # fill the panel. Unsorted, white wins; the shopper's own sort says the price matters, and the budget is kept.
    viewed = [CATALOG.by_id[i] for i in ("P00075", "P00371", "P00003", "P00387")]
    assert sum(p.colour == "white" for p in viewed) == 3
    assert list(decompose(session_summary(viewed), CATALOG).constraints.colours) == ["white"]
    c = decompose(_sorted(session_summary(viewed)), CATALOG).constraints
    assert not c.colours
    assert not c.HasField("price_min") and c.price_max == max(p.price for p in viewed)


def test_a_band_read_off_two_views_that_share_a_brand_and_colour_does_not_outlast_them():
    # Two black Acme keyboards at $43.94 and $44.05: brand, colour and a tight band, each on both views, too few
    # products for all three. The band's window, cut around the two prices, made it the rarest and it was kept alone
    # (no Acme, no black item needed in the panel); the views back each reading alike, so each keeps half the panel.
    viewed = [CATALOG.by_id["P00197"], CATALOG.by_id["P00453"]]
    assert viewed[0].brand == viewed[1].brand and viewed[0].colour == viewed[1].colour
    request = decompose(session_summary(viewed), CATALOG)
    c, half = request.constraints, request.k // 2
    assert not c.HasField("price_min") and not c.HasField("price_max")
    assert any(list(g.brands) == ["Acme"] and g.count == half for g in c.at_least)
    assert any(list(g.colours) == ["black"] and g.count == half for g in c.at_least)
    assert any(g.HasField("price_max") and g.price_max >= viewed[1].price for g in c.at_least)  # the price group
    chosen, candidates = recommend(CATALOG, request)
    panel = [CATALOG.products[int(candidates[i])] for i in chosen.indices]
    assert sum(p.brand == "Acme" for p in panel) >= half
