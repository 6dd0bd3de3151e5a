"""Hedges from a single view (issue 17 item 2): where one product view cannot say which reading of the shopper
is right, the panel (rules decomposer -> optimizer) gives half of its items to each, on a generated catalog."""

from __future__ import annotations

from collections import Counter

import numpy as np

from interarec.v1 import summaries_pb2
from services.common.catalog import Catalog, Product
from services.common.demo_catalog import build_rows
from services.core.assortment.candidates import candidate_rows
from services.core.assortment.mnl import solve_request
from services.core.decompose.rules import decompose
from services.core.reading.summary import add_views

DEMO = Catalog([Product(**row) for row in build_rows(seed=7, n_products=2400)])
K = 8


def _panel(p: Product) -> list[Product]:
    summary = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=1)
    add_views(summary, [(p, 2, 0.95)])
    request = decompose(summary, DEMO, k=K)
    solved = solve_request(DEMO, request)
    return [DEMO.products[int(solved.candidates[i])] for i in solved.assortment.indices]


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
    # budget around the viewed price then saw few items in it. Now half the panel is among the candidates
    # nearest that price (the narrowest window holding a panel's worth of them).
    checked = 0
    for p in DEMO.products:
        if checked == 12:
            break
        if p.price > np.quantile(DEMO.price[DEMO.category == p.category], 0.2):
            continue
        summary = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=1)
        add_views(summary, [(p, 2, 0.95)])
        request = decompose(summary, DEMO, k=K)
        if any(g.brands or g.colours for g in request.constraints.at_least):
            continue  # the brand/colour hedge above takes the panel first
        prices = DEMO.price[candidate_rows(DEMO, request.constraints)]
        nearest = np.sort(np.abs(np.log(prices / p.price)))[K - 1]
        solved = solve_request(DEMO, request)
        panel = [DEMO.products[int(solved.candidates[i])] for i in solved.assortment.indices]
        near = [x for x in panel if abs(np.log(x.price / p.price)) <= nearest + 1e-9]
        assert len(near) >= K // 2, (p, [x.price for x in panel])
        checked += 1
    assert checked >= 12
