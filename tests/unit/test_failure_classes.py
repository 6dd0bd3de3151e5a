"""The shopper classes the recommendation used to fail (issue 9), one test each, through the pure chain
summary -> rules decomposer -> MNL assortment."""

from __future__ import annotations

import numpy as np

from interarec.v1 import optimization_pb2, summaries_pb2
from services.core.assortment.mnl import recommend
from services.core.decompose.rules import decompose
from services.core.reading import filters as chips
from services.core.reading.grounding import Observation
from services.core.reading.summary import summarize
from services.core.reading.window import HISTORY_LIMIT, FrameMeta, SessionState, add_frame, close_idle
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(480, seed=3)


def products(n: int, **attrs):
    out = [p for p in CATALOG.products if all(getattr(p, k) == v for k, v in attrs.items())][:n]
    assert len(out) == n, attrs
    return out


def session_summary(observations: list[Observation]) -> summaries_pb2.BehaviourSummary:
    """Feed observations one page each through the real window state machine and summarise the last window."""
    state, closed = SessionState(), []
    for i, o in enumerate(observations):
        o.frame_seq = i
        meta = FrameMeta(frame_seq=i, capture_ms=i * 1000, page_url=o.page_url or f"http://shop/{i}")
        closed += add_frame(state, meta, (i * 0x9E3779B97F4A7C15) & (2**64 - 1), o, now_ms=i * 1000, max_frames=4)
    idle = close_idle(state, now_ms=10**12, idle_ms=1)  # None when the last page's read already closed it
    last = idle if idle is not None else closed[-1]
    return summarize("s", "demo", last, last.history, CATALOG)


def view(pid: str) -> Observation:
    return Observation(kind="product", product_id=pid, product_confidence=0.95, page_url=f"http://shop/p/{pid}")


def assortment(request: optimization_pb2.OptimizationRequest):
    chosen, candidates = recommend(CATALOG, request)
    return [CATALOG.products[int(candidates[i])] for i in chosen.indices]


def test_the_newest_intent_wins_after_a_change_halfway():
    before = products(3, category="Keyboards")
    after = products(3, category="Cameras")
    summary = session_summary([view(p.product_id) for p in before + after])
    request = decompose(summary, CATALOG)
    assert list(request.constraints.categories) == ["Cameras"]
    items = assortment(request)
    assert items and all(p.category == "Cameras" for p in items)
    # and the other way round: the old intent was the dearer one
    summary = session_summary([view(p.product_id) for p in after + before])
    assert list(decompose(summary, CATALOG).constraints.categories) == ["Keyboards"]


def test_ui_filters_stay_explicit_after_products_are_viewed():
    seen = [p for p in CATALOG.products if p.category == "Monitors" and 200 <= p.price <= 320][:3]
    listing = Observation(kind="listing", category="Monitors", page_url="http://shop/c/Monitors?price_min=200",
                          filters=[chips.price(200.0, 320.0)], listing_product_ids=[p.product_id for p in seen])
    summary = session_summary([listing, *(view(p.product_id) for p in seen)])
    assert list(summary.ui_filters) == ["Price: $200 – $320"] and summary.ui_filters_category == "Monitors"
    (price,) = summary.ui_filter_fields  # the contract: structured fields, no shop wording to re-parse
    assert (price.field, price.price_low, price.price_high) == (summaries_pb2.UiFilter.FIELD_PRICE, 200.0, 320.0)
    request = decompose(summary, CATALOG)
    c = request.constraints
    assert (c.price_min, c.price_max) == (200.0, 320.0)  # the stated budget, not one inferred from 3 prices
    assert all(200 <= p.price <= 320 for p in assortment(request))


def test_a_filter_is_dropped_once_the_shopper_moved_to_another_category():
    listing = Observation(kind="listing", category="Monitors", page_url="http://shop/c/Monitors?colour=black",
                          filters=[chips.term("colour", "black")])
    later = products(4, category="Speakers")
    summary = session_summary([listing, *(view(p.product_id) for p in later)])
    request = decompose(summary, CATALOG)
    assert list(request.constraints.categories) == ["Speakers"]
    assert "black" not in request.constraints.colours or all(p.colour == "black" for p in later)


def test_a_searched_brand_is_an_explicit_signal_before_any_view():
    summary = summaries_pb2.BehaviourSummary(session_id="s", window_seq=1, search_queries=["helix speakers"])
    request = decompose(summary, CATALOG, k=4)  # this small catalog has 7 Helix speakers
    assert list(request.constraints.brands) == ["Helix"] and list(request.constraints.categories) == ["Speakers"]


def test_relaxation_follows_evidence_not_attribute_kind():
    # red on every view, a brand on two of four: the two cannot both hold with k=8 in this catalog
    reds = [p for p in CATALOG.products if p.colour == "red"]
    brand = max({p.brand for p in reds}, key=lambda b: sum(p.brand == b for p in reds))
    viewed = [p for p in reds if p.brand == brand][:2] + [p for p in reds if p.brand != brand][:2]
    s = summaries_pb2.BehaviourSummary(session_id="s", window_seq=1)
    for p in viewed:
        s.viewed_products.add(product_id=p.product_id, brand=p.brand, category=p.category, colour=p.colour,
                              price=p.price, confidence=0.9)
    request = optimization_pb2.OptimizationRequest(session_id="s", k=8, summary=s)
    request.constraints.brands.append(brand)
    request.constraints.colours.append("red")
    request.constraints.categories.append(viewed[0].category)  # too narrow together: something must go
    from services.core.decompose.repair import repair_request
    repair_request(request, CATALOG)
    assert list(request.constraints.colours) == ["red"]


def test_viewed_products_are_never_recommended_back_in_a_long_session():
    # The first views are older than the summary's bounded history; they must still be excluded.
    speakers = products(HISTORY_LIMIT + 10, category="Speakers")
    views = [view(p.product_id) for p in speakers]
    views += [view(speakers[-1].product_id) for _ in range(HISTORY_LIMIT + 5)]  # dwell on the last one a long time
    for i, o in enumerate(views):
        o.page_url = f"http://shop/p/{o.product_id}?visit={i}"
    summary = session_summary(views)
    assert len(summary.viewed_products) < len(speakers)  # the recent part only...
    assert set(summary.seen_product_ids) == {p.product_id for p in speakers}  # ...but every id is carried
    request = decompose(summary, CATALOG)
    recommended = {p.product_id for p in assortment(request)}
    assert recommended and not recommended & {p.product_id for p in speakers}


def test_cold_start_is_popular_and_diverse_not_the_dearest():
    request = decompose(summaries_pb2.BehaviourSummary(session_id="s", window_seq=1), CATALOG)
    items = assortment(request)
    assert len(items) == 8
    assert len({p.brand for p in items}) == 8  # one per brand
    dearest = set(np.argsort(-CATALOG.price)[:40])
    assert not {CATALOG.index[p.product_id] for p in items} & dearest
    popularity = CATALOG.rating + 0.1 * np.log1p(CATALOG.review_count)
    assert np.mean([popularity[CATALOG.index[p.product_id]] for p in items]) > np.quantile(popularity, 0.75)


def test_a_long_dwell_on_one_page_keeps_the_other_views_in_the_summary():
    # Three products opened, then many reads of a fourth (scrolling, dwelling): the bounded history drops the
    # repeated reads first, so the summary still knows every product the shopper opened.
    opened = products(4, category="Speakers")
    views = [view(p.product_id) for p in opened[:3]]
    views += [view(opened[3].product_id) for _ in range(HISTORY_LIMIT + 5)]
    for i, o in enumerate(views):
        o.page_url = f"http://shop/p/{o.product_id}?read={i}"
    summary = session_summary(views)
    assert [v.product_id for v in summary.viewed_products] == [p.product_id for p in opened]
