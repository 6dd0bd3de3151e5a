"""Hedges from a single view (issue 17 item 2): where one product view cannot say which reading of the shopper
is right, the panel (rules decomposer -> optimizer) gives half of its items to each, on a generated catalog."""

from __future__ import annotations

from collections import Counter

import numpy as np

from interarec.v1 import summaries_pb2
from services.common.catalog import Product
from services.core.assortment.candidates import candidate_rows
from services.core.assortment.mnl import solve_request
from services.core.decompose.rules import decompose
from services.core.reading.summary import add_views
from tests.unit.catalog_factory import demo_catalog, demo_panel

DEMO = demo_catalog()
K = 8


def _panel(p: Product) -> list[Product]:
    return demo_panel(DEMO, [p], K)[0]


def test_one_view_whose_brand_and_colour_cannot_fill_the_panel_gets_half_of_each():
    # Before: the rules kept the type and the rarer of brand or colour hard, so a shopper wanting the other one
    # saw a panel mostly wrong until a second view (noisy-brand, brand-loyal on the held-out draws).
    by_type_brand = Counter((p.category, p.brand) for p in DEMO.products)
    by_type_colour = Counter((p.category, p.colour) for p in DEMO.products)
    by_all = Counter((p.category, p.brand, p.colour) for p in DEMO.products)
    firsts = [p for p in DEMO.products[:600] if by_all[p.category, p.brand, p.colour] < K + 1
              and by_type_brand[p.category, p.brand] > K // 2 and by_type_colour[p.category, p.colour] > K // 2]
    assert len(firsts) >= 20
    for p in firsts[:12]:
        panel = _panel(p)
        assert len(panel) == K, p
        assert all(x.category == p.category for x in panel), p
        assert sum(x.brand == p.brand for x in panel) >= K // 2, p
        assert sum(x.colour == p.colour for x in panel) >= K // 2, p


def test_one_view_of_a_cheap_product_keeps_half_the_panel_near_its_price():
    # One price makes no budget, and revenue maximisation leans to the type's dear items; a shopper with a
    # budget around the viewed price then saw few items in it. Half the panel is among the candidates nearest that
    # price (the narrowest window holding a panel's worth of them), and the brand and colour hedges beside it take
    # their own items nearest it: a budget of 20 % around the price holds 5-8 of 8 on the first 12 cheap views here
    # (0-6 when the brand and colour halves were their dearest items). The price group itself then yields part of
    # its 4 where the three groups cannot all fit (the type's 8 nearest prices: 0-6 of 8, 0-4 before).
    checked = 0
    for p in DEMO.products:
        if checked == 12:
            break
        if p.price > np.quantile(DEMO.price[DEMO.category == p.category], 0.2):
            continue
        summary = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=1)
        add_views(summary, [(p, 2, 0.95)])
        solved = solve_request(DEMO, decompose(summary, DEMO, k=K))
        panel = [DEMO.products[int(solved.candidates[i])] for i in solved.assortment.indices]
        near = [x for x in panel if max(x.price / p.price, p.price / x.price) <= 1.2]
        assert len(near) >= K // 2 + 1, (p, [x.price for x in panel])
        checked += 1
    assert checked == 12


def _panel_after(views: list[Product]) -> tuple[list[Product], object]:
    return demo_panel(DEMO, views, K)


def _switch_sessions(n: int):
    """(three views of one type at close prices, the views of another type) from the demo catalog, brands and
    colours all different so that only the type changes."""
    types = sorted(DEMO.categories)
    for i in range(n):
        old_type, new_type = types[i % len(types)], types[(i + 3) % len(types)]
        old = sorted((p for p in DEMO.products if p.category == old_type), key=lambda p: p.price)[40 + 7 * i:]
        olds, used = [], set()
        for p in old:
            if p.brand not in used and p.colour not in {q.colour for q in olds}:
                olds.append(p)
                used.add(p.brand)
            if len(olds) == 3:
                break
        news = [p for p in DEMO.products[i * 11:] if p.category == new_type and p.brand not in used
                and p.colour not in {q.colour for q in olds}][:2]
        yield olds, news


def test_one_view_of_a_new_type_gets_half_the_panel_at_its_price():
    # Before: the old type (and its band) stayed hard for the whole view of the new type, so a shopper who had
    # changed their mind saw a panel with nothing of the new type until a second view (about 20 s in the eval).
    for olds, news in _switch_sessions(6):
        panel, request = _panel_after(olds + news[:1])
        new = news[0]
        assert set(request.constraints.categories) == {olds[0].category, new.category}
        of_new = [p for p in panel if p.category == new.category]
        assert len(of_new) >= K // 2, (new, panel)
        prices = DEMO.price[(DEMO.category == new.category)]
        nearest = np.sort(np.abs(np.log(prices / new.price)))[K]  # generous: the type's K nearest prices
        assert sum(abs(np.log(p.price / new.price)) <= nearest for p in of_new) >= K // 2
        # a glance costs half the panel, not all of it: the old type keeps what its own budget holds
        old = next(g for g in request.constraints.at_least if list(g.categories) == [olds[0].category])
        seen = {p.product_id for p in olds + news}
        in_budget = [p for p in DEMO.products if p.category == olds[0].category and p.product_id not in seen
                     and old.price_min <= p.price <= old.price_max]
        assert sum(p in in_budget for p in panel) >= min(K // 2, len(in_budget))


def test_a_change_of_mind_shown_twice_is_followed_in_full():
    # Before: with the old type on three of five views and the new one on the two newest, neither was hard,
    # and revenue maximisation filled the panel with anything.
    for olds, news in _switch_sessions(6):
        panel, request = _panel_after(olds + news)
        assert list(request.constraints.categories) == [news[0].category]
        assert all(p.category == news[0].category for p in panel)


def _glance_brand_sessions(n: int):
    """(three views of one type, three brands, colours all different; one view of another type whose brand is the
    old views' middle one): only the type changes, and the brand seen on both types says nothing of the new one."""
    for olds, news in _switch_sessions(n):
        new = next((p for p in DEMO.products if p.category == news[0].category and p.brand == olds[1].brand
                    and p.colour not in {q.colour for q in olds}), None)
        if new is not None:
            yield olds, new


def test_a_brand_seen_on_the_old_type_is_no_evidence_for_the_new_one():
    # Before: three footwear views (Elkhorn, Rowan, Halvard) then one coat by Rowan made Rowan hard for both types
    # (two of four views, the newest among them), so the coat half was the nearest Rowan coats, not the nearest
    # coats, and the eval's intent-category-switch waited for a second coat view (21-23 s) to follow its switch.
    checked = 0
    for olds, new in _glance_brand_sessions(12):
        panel, request = _panel_after([*olds, new])
        assert set(request.constraints.categories) == {olds[0].category, new.category}
        assert list(request.constraints.brands) == [], (olds, new, request.constraints)
        of_new = [p for p in panel if p.category == new.category]
        assert len(of_new) >= K // 2
        assert not all(p.brand == new.brand for p in of_new)
        checked += 1
    assert checked >= 3


def test_one_brand_on_both_types_stays_hard():
    # A shopper following a brand across types: the brand is on every view of each type, so it stays hard.
    checked = 0
    for olds, news in _switch_sessions(8):
        brand = news[0].brand
        old = [p for p in DEMO.products if p.category == olds[0].category and p.brand == brand][:3]
        new = next(p for p in DEMO.products if p.category == news[0].category and p.brand == brand)
        if len(old) < 3:
            continue
        _, request = _panel_after([*old, new])
        assert list(request.constraints.brands) == [brand]
        checked += 1
    assert checked >= 3


def _nearest_span(rows: np.ndarray, price: float) -> float:
    """How far (high / low) the K // 2 candidates nearest `price` spread around it."""
    d = np.sort(np.maximum(np.log(price / DEMO.price[rows]), np.log(DEMO.price[rows] / price)))[K // 2 - 1]
    return float(np.exp(2 * d))


def test_one_view_whose_brand_and_colour_leave_nothing_near_its_price_hedges_all_three():
    # One view of a brand and colour that together fill the panel kept both hard, and the price hedge then took the
    # nearest of them: for watches-band-compare (a Marlow brown watch at $323.50, Marlow brown watches at $199-895)
    # nothing within the shopper's $315-345, 0 of 8 right until a second view. Now brand, colour and price get half
    # the panel each; where products of that brand and colour lie near the price, both stay hard as before.
    by_all = Counter((p.category, p.brand, p.colour) for p in DEMO.products)
    starved, kept = 0, 0
    for p in DEMO.products:
        if by_all[p.category, p.brand, p.colour] < K + 2 or starved >= 8 and kept >= 4:
            continue
        same = np.flatnonzero((DEMO.category == p.category) & (DEMO.brand == p.brand) & (DEMO.colour == p.colour)
                              & (DEMO.price != p.price))
        span = _nearest_span(same, p.price)
        if (span > 1.6 and starved >= 8) or (span <= 1.6 and kept >= 4):
            continue
        panel, request = _panel_after([p])
        if span > 1.6:
            starved += 1
            assert not request.constraints.brands and not request.constraints.colours, p
            assert sum(x.brand == p.brand for x in panel) >= K // 2, p
            assert sum(x.colour == p.colour for x in panel) >= K // 2, p
            # The brand and colour halves are their items nearest the price (the three-ways test below), so a budget
            # of 20 % around it holds 7-8 of 8 (4-5 when the brand and colour halves were the dearest). The price
            # group itself, the type's 4 nearest (here within 1-5 % of the price), then yields to what still fits
            # (0-4): a budget narrower than that window loses items; none of the held-out shoppers' budgets is.
            near = [x for x in panel if max(x.price / p.price, p.price / x.price) <= 1.2]
            assert len(near) >= K - 1, (p, [x.price for x in panel])
        else:
            kept += 1
            assert list(request.constraints.brands) == [p.brand] and list(request.constraints.colours) == [p.colour]
            assert all(x.brand == p.brand and x.colour == p.colour for x in panel), p
    assert starved == 8 and kept == 4


def _other_brand_and_colour(priced, n: int):
    """n pairs (p, q) of one type, q of another brand and colour, at a price ratio q/p that `priced` accepts."""
    found = 0
    for p in DEMO.products[::7]:
        q = next((x for x in DEMO.products if x.category == p.category and x.brand != p.brand
                  and x.colour != p.colour and priced(x.price / p.price)), None)
        if q is not None:
            yield p, q
            found += 1
            if found == n:
                return


def test_two_views_that_differ_in_brand_and_colour_hedge_the_first_and_the_budget():
    # Two views of one type at close prices that differ in brand and colour made both "either" terms hard; their
    # products near those prices were few (any-band-search: Halvard red then Bexley black lamps at $66.50 and
    # $57.50, 1 of 8 right for 12 s; luxury-browse's drop). The second view is a glance off the first view's
    # reading or a change of mind (test_rules_glances.py): neither term is hard, the first view's brand and colour
    # keep half the panel each, and every group lies near the viewed prices.
    checked = 0
    for p, q in _other_brand_and_colour(lambda ratio: 1 < ratio <= 1.15, 6):
        panel, request = _panel_after([p, q])
        checked += 1
        assert not request.constraints.brands and not request.constraints.colours, (p, q)
        rows = candidate_rows(DEMO, request.constraints)  # a budget two close prices make may leave fewer
        for attr in ("brand", "colour"):
            left = sum(getattr(DEMO.products[int(r)], attr) == getattr(p, attr) for r in rows)
            assert sum(getattr(x, attr) == getattr(p, attr) for x in panel) >= min(K // 2, left), (attr, p, q)
        lo, hi = sorted((p.price, q.price))
        # the brand and colour halves near the prices, so a budget of 20 % around them holds most of the panel
        near = [x for x in panel if lo / 1.2 <= x.price <= hi * 1.2]
        assert len(near) >= K - 2, (p, q, [x.price for x in panel])
    assert checked == 6


def test_two_views_that_share_only_a_high_rating_keep_half_the_panel_so_rated():
    # Two views of one type that differ in brand and colour but are both rated above most of their type (their
    # lowest rating less the slack above the type's median): the second view contradicts the first one's brand and
    # colour and agrees with its rating, so the price window's items rated like the views go before the first view's
    # brand and colour groups. Before, those groups (near the first view's price) filled the panel with their items
    # rated as the type is and the rated group yielded (held-out draw 4 `top-rated-browse`: Larkspur purple $55 r4.5
    # then Gadsby brown $171 r4.9, 2 of 8 rated 4.5+; on the 10 pairs here 1-8 of 8 rated like the views, 3.9 on
    # average; after, 3-8 and 5.0, the first view's brand or colour still on 5-8).
    # A rating most of the type holds says nothing: test_two_views_that_differ_in_brand_and_colour_... keeps both
    # first-view groups whole.
    rated = []
    for p, q in _other_brand_and_colour(lambda ratio: 1.3 < ratio <= 4, 40):
        level = min(p.rating, q.rating) - 0.1
        if level <= float(np.median(DEMO.rating[DEMO.category == p.category])):
            continue
        panel, request = _panel_after([p, q])
        rated.append(sum(x.rating >= level for x in panel))
        assert sum(x.brand == p.brand or x.colour == p.colour for x in panel) >= K // 2, (p, q)
    assert len(rated) == 10, rated
    assert min(rated) >= 3 and np.mean(rated) >= 4.5, rated


def test_one_view_hedged_three_ways_finds_every_reading_near_the_viewed_price():
    # One view hedges brand, colour and budget. The brand and colour groups took their dearest items (revenue), so
    # the three groups overlapped little and the price group, listed last, yielded to 0-3 of 8: a shopper with a
    # budget around the viewed price saw two to six items at two to five times it for a whole view (held-out
    # any-band-search, noisy-band, intent-cheap-to-luxury). Now each brand or colour group takes its own items
    # nearest the viewed price, so a budget holding that price finds most of the panel in it, while the brand and
    # colour readings keep half the panel each. On the 119 hedged first views sampled here: before, 4 had no item
    # within 20 % of the viewed price and 37 fewer than three, 3.5 of 8 on average; after, none, 5 and 6.2.
    near_counts = []
    for p in DEMO.products[:600:5]:
        panel, request = _panel_after([p])
        if not any(g.brands or g.colours for g in request.constraints.at_least):
            continue
        assert sum(x.brand == p.brand for x in panel) >= K // 2, p
        assert sum(x.colour == p.colour for x in panel) >= K // 2, p
        near = sum(max(x.price / p.price, p.price / x.price) <= 1.2 for x in panel)
        assert near >= 1, (p, [x.price for x in panel])
        near_counts.append(near)
    assert len(near_counts) >= 100
    assert sum(n < 3 for n in near_counts) <= len(near_counts) // 10, sorted(near_counts)
    assert np.mean(near_counts) >= 5.5, np.mean(near_counts)


def _top_rated_first_views(n: int) -> list[Product]:
    """Products rated in their type's top tenth (opening one by chance: 1 in 10 or less) whose view is hedged."""
    out = []
    for p in DEMO.products:
        if (DEMO.rating[DEMO.category == p.category] >= p.rating).mean() <= 0.1:
            _, request = _panel_after([p])
            if len(request.constraints.at_least) >= 2:
                out.append(p)
        if len(out) == n:
            return out
    return out


def test_one_view_rated_high_for_its_type_keeps_the_hedges_to_well_rated_items():
    # held-out `top-rated-browse`: a first view rated 4.9 (Kestrel cookware, $50.99); the brand, colour and budget
    # hedges near its price took items rated as the catalog is (3.5-4.4): 3 of 8 in the type's upper quarter of
    # ratings there, 15 in all on these 12 views (0-3 each). Each hedge group now keeps to that quarter where its
    # nearest items so rated are about as near the price as its nearest items at all: 4 there, 28 in all, and no
    # group reaches further than the budget span (PRICE_BAND_MAX_RATIO) beyond its plain window.
    views = _top_rated_first_views(12)
    assert len(views) == 12
    well = []
    for p in views:
        panel, request = _panel_after([p])
        upper = float(np.quantile(DEMO.rating[DEMO.category == p.category], 0.75))
        well.append(sum(x.rating > upper for x in panel))
        assert sum(x.brand == p.brand for x in panel) >= K // 2, p
        assert sum(x.colour == p.colour for x in panel) >= K // 2, p
    assert sum(well) >= 25, well
    panel, request = _panel_after([DEMO.by_id["P49116"]])
    levels = [g.min_rating for g in request.constraints.at_least if g.HasField("min_rating")]
    assert levels and sum(x.rating >= min(levels) for x in panel) >= K // 2, [x.rating for x in panel]


def test_one_view_rated_as_its_type_is_hedges_any_rating():
    """A view rated near its type's median says nothing about a rating habit: no hedge group keeps to a rating. (Within
    the price group's window, a group of its items rated at least the MNL's rating level may come first: it narrows no
    reading, hedges._rated_like_the_views.)"""
    checked = 0
    for p in DEMO.products[:400]:
        if checked == 10:
            break
        ratings = DEMO.rating[DEMO.category == p.category]
        if abs(p.rating - float(np.median(ratings))) > 0.1:
            continue
        _, request = _panel_after([p])
        if len(request.constraints.at_least) < 2:
            continue
        groups = list(request.constraints.at_least)
        within = [g for g in groups if g.HasField("min_rating") and any(
            (o.price_min, o.price_max) == (g.price_min, g.price_max) and not o.HasField("min_rating") for o in groups)]
        assert not any(g.HasField("min_rating") for g in groups if g not in within), p
        checked += 1
    assert checked == 10


def test_a_glance_at_another_price_leaves_the_kept_brand_near_its_own_views_price():
    # A product, then a glance at another brand and colour priced a third lower: the first view's brand and colour
    # keep half the panel each, near the first view's price, not spread down to the glance's (held-out draw 3
    # `noisy-band`: a $297 Juniper, then a $190 glance; the Juniper half took $212-225 items, 2 of 8 in its
    # $270-305 band, where it had 5 before the glance).
    checked = 0
    for p, q in _other_brand_and_colour(lambda ratio: 0.6 < ratio < 0.7, 6):
        _, request = _panel_after([p, q])
        groups = [g for g in request.constraints.at_least
                  if list(g.brands) == [p.brand] or list(g.colours) == [p.colour]]
        checked += 1
        assert groups, (p, q)
        for g in groups:  # the narrowest window around the first view's price alone: as far below it as above
            assert np.isclose(np.log(p.price / g.price_min), np.log(g.price_max / p.price), atol=0.01), (p, q, g)
    assert checked == 6


def test_a_brand_switch_keeps_each_brand_to_its_own_type():
    # Three coats by one brand, then one watch by another: the brand is hard for each type, so "either brand" is hard
    # over both, and the watch half took the old brand's watches (neither reading) nearest the price: held-out draw 4
    # `intent-brand-switch`, 2 of 8 right for 18 s until a second watch of the new brand. The new type's half keeps
    # to the new type's own brand, as the old type's half keeps to its own.
    checked = 0
    for olds, news in _switch_sessions(12):
        old_type, new_type = olds[0].category, news[0].category
        brand = next((b for b in sorted(DEMO.brands) if sum(p.category == old_type and p.brand == b
                                                            for p in DEMO.products) >= 3
                      and sum(p.category == new_type and p.brand == b for p in DEMO.products) >= K), None)
        if brand is None:
            continue
        old = list({p.colour: p for p in DEMO.products if p.category == old_type and p.brand == brand}.values())[:3]
        new = next((p for p in DEMO.products if p.category == new_type and p.brand != brand
                    and p.colour not in {q.colour for q in old}
                    and sum(q.category == new_type and q.brand == p.brand for q in DEMO.products) > K), None)
        if new is None or len(old) < 3:  # colours all different: only the brand is hard
            continue
        panel, request = _panel_after([*old, new])
        assert set(request.constraints.brands) == {brand, new.brand}
        of_new = [p for p in panel if p.category == new_type]
        assert sum(p.brand == new.brand for p in of_new) >= K // 2, (new.brand, [(p.brand, p.price) for p in of_new])
        checked += 1
    assert checked >= 3


def test_two_views_of_one_brand_and_colour_too_few_to_fill_keep_the_type_and_hedge_the_pair():
    # Two views share their type, brand and colour, and too few such products are left to fill the panel: which of
    # the brand or the colour the shopper follows cannot be told, so the type stays and each gets half the panel.
    # Before, the brand's lift given the colour left the type almost nothing to add where the brand makes mostly
    # that type, and the type went instead (simulated `noisy-brand`: two blue Larkspur coats, then 1 of 6 coats).
    by_type_brand = Counter((p.category, p.brand) for p in DEMO.products)
    by_type_colour = Counter((p.category, p.colour) for p in DEMO.products)
    groups: dict[tuple[str, str, str], list[Product]] = {}
    for p in DEMO.products:
        groups.setdefault((p.category, p.brand, p.colour), []).append(p)
    pairs = [g[:2] for key, g in groups.items() if 2 <= len(g) < K + 2
             and by_type_brand[key[:2]] > K and by_type_colour[key[0], key[2]] > K]
    assert len(pairs) >= 20
    for views in pairs[:40]:
        panel, _ = _panel_after(views)
        assert len(panel) == K and all(x.category == views[0].category for x in panel), views
        assert sum(x.brand == views[0].brand for x in panel) >= K // 2, views
        assert sum(x.colour == views[0].colour for x in panel) >= K // 2, views
