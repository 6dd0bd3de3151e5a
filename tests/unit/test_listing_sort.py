"""A listing's sort order, from the words on screen to the panel (issue 17 item 2): the reader maps the shop's
wording to a closed set, the summary carries the newest listing's order, the decomposer makes a sort by rating or
price a soft lean that fades as the views contradict it (never a hard constraint), and the MNL attraction leans the
panel towards that end of the product type."""

from __future__ import annotations

import numpy as np
import pytest

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.config import ConfigError
from services.core.assortment.attraction import attraction
from services.core.assortment.mnl import recommend
from services.core.decompose.rules import decompose
from services.core.reading.grounding import Observation
from services.core.reading.ocr import OcrLine
from services.core.reading.profile import load_profile
from services.core.reading.sort_order import SortPatterns, chosen_order
from services.core.reading.summary import summarize
from services.core.reading.window import ClosedWindow
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240)
PATTERNS = SortPatterns.build(load_profile())
S = summaries_pb2


def line(text: str, left: int, top: int, height: float = 14.0, width: int = 120) -> OcrLine:
    return OcrLine(text=text, conf=95.0, height=height, left=left, top=top, width=width)


@pytest.mark.parametrize(("lines", "order"), [
    ([line("Sort by: Featured", 600, 200)], "relevance"),  # one line, label and option
    ([line("Sort by price: high to low", 600, 200)], "price_desc"),  # the option itself says "Sort by"
    ([line("Sort by", 600, 200, width=50), line("Price, low to high", 604, 222, 20)], "price_asc"),  # select below
    ([line("Sort", 600, 200, width=30), line("Avg. Customer Review", 650, 198, 18)], "rating_desc"),  # right of it
    ([line("Order by", 40, 440, 13, 60), line("[Toprated |", 43, 459, 32)], "rating_desc"),  # OCR's select text
    ([line("Sort", 600, 200, width=30), line("Newest arrivals", 600, 220, 20)], "newest"),
    ([line("Sort", 600, 200, width=30), line("Alphabetically, A-Z", 600, 220, 20)], "relevance"),
])
def test_the_shops_wording_maps_to_the_closed_set(lines: list[OcrLine], order: str) -> None:
    assert chosen_order(lines, PATTERNS) == order


def test_an_order_name_without_a_sort_label_is_no_choice() -> None:
    # "Top rated" as a home page's section heading, or a sort label whose option is far away, says nothing
    assert chosen_order([line("Top rated", 40, 300, 24)], PATTERNS) is None
    assert chosen_order([line("Sort", 600, 200, width=30), line("Top rated", 600, 420, 20)], PATTERNS) is None
    assert chosen_order([line("Sort", 600, 200, width=30), line("All colours", 600, 220, 20)], PATTERNS) is None


def test_a_row_of_options_is_no_choice() -> None:
    # pills or a segmented control beside the label, or one line of them: which is chosen is in their style only
    pills = [line("Sort by", 40, 300, width=50), line("Top rated", 100, 300, width=70),
             line("Price: low to high", 180, 300), line("Newest", 310, 300, width=50)]
    assert chosen_order(pills, PATTERNS) is None
    assert chosen_order([line("Sort: Top rated Price: low to high Newest", 40, 300, width=300)], PATTERNS) is None
    # the same option twice (a select's text read with and without its frame) is still one choice
    twice = [line("Sort", 600, 200, width=30), line("Price: high to low v", 600, 218, 34),
             line("Price: high to low »|", 600, 226, 20)]
    assert chosen_order(twice, PATTERNS) == "price_desc"


def test_a_notice_over_buttons_is_no_controls_label() -> None:
    # a cookie banner's sentence over its "Accept all" button (one ring round both buttons): reading it as the
    # button's label cost 28 units of reading on every frame with the banner; "Sort" over a select is a label
    from services.core.reading.reader import Box
    from services.core.reading.sort_order import labelled_controls

    notice, buttons = Box(21, 714, 572, 20), Box(21, 742, 227, 43, framed=True)
    label, select = Box(28, 483, 36, 15), Box(27, 503, 182, 26, framed=True)
    text = Box(32, 508, 80, 16, framed=True)
    read = labelled_controls([notice, buttons, label, select], set(), None,
                             lambda b: text if b is select else Box(b.left + 5, b.top + 5, 60, 16, framed=True))
    assert read == [label, text]


def test_the_profile_names_only_orders_of_the_closed_set(tmp_path) -> None:
    bad = tmp_path / "shop.json"
    bad.write_text('{"sort_orders": {"cheapest": ["\\\\bcheap"]}}')
    with pytest.raises(ConfigError, match="sort_orders"):
        load_profile(bad)


def _window(observations: list[Observation]) -> ClosedWindow:
    return ClosedWindow(window_seq=1, reason="read", page_url="http://shop/c/x", frame_seqs=[1], first_capture_ms=0,
                        last_capture_ms=0, opened_ms=0, closed_ms=0, observations=observations, history=[],
                        dropped_duplicates=0)


def test_the_summary_carries_the_newest_listings_order() -> None:
    category = CATALOG.products[0].category
    sorted_ = Observation(kind="listing", category=category, sort_order="rating_desc")
    scrolled = Observation(kind="listing", category=category)  # the control is off screen: says nothing
    s = summarize("s", "demo", _window([sorted_, scrolled]), [], CATALOG)
    assert s.listing_sort_order == S.SORT_ORDER_RATING_DESC and "sorted a listing by rating" in s.narrative
    back = Observation(kind="listing", category=category, sort_order="relevance")
    assert summarize("s", "demo", _window([sorted_, back]), [], CATALOG).listing_sort_order == S.SORT_ORDER_RELEVANCE
    assert summarize("s", "demo", _window([scrolled]), [], CATALOG).listing_sort_order == S.SORT_ORDER_UNSPECIFIED
    # wire compatible: a summary from before the field reads as "no sort read"
    old = S.BehaviourSummary(session_id="s", window_seq=1).SerializeToString()
    assert S.BehaviourSummary.FromString(old).listing_sort_order == S.SORT_ORDER_UNSPECIFIED


def _summary(order: int, viewed: list, category: str = CATALOG.products[0].category) -> S.BehaviourSummary:
    s = S.BehaviourSummary(session_id="s", tenant="demo", window_seq=2, listing_sort_order=order)
    if not viewed:  # browsing the type's listing, nothing opened yet
        s.product_types.add(value=category, weight=1.0)
    for p in viewed:
        s.viewed_products.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                              colour=p.colour, price=p.price, frames=2, confidence=0.95)
    return s


def _of_type(category: str, well_rated: bool) -> list:
    ratings = np.array([p.rating for p in CATALOG.products if p.category == category])
    median = float(np.median(ratings))
    return [p for p in CATALOG.products if p.category == category and (p.rating > median) == well_rated]


def test_a_sort_by_rating_is_a_lean_that_fades_as_the_views_contradict_it() -> None:
    category = CATALOG.products[0].category
    lean = decompose(_summary(S.SORT_ORDER_RATING_DESC, []), CATALOG).preferences.listing_order
    assert (lean.order, lean.weight) == (S.SORT_ORDER_RATING_DESC, 1.0)  # nothing contradicts it yet
    good, poor = _of_type(category, True), _of_type(category, False)
    agreeing = decompose(_summary(S.SORT_ORDER_RATING_DESC, good[:3]), CATALOG)
    assert agreeing.preferences.listing_order.weight == 1.0
    assert not agreeing.constraints.HasField("min_rating") or agreeing.constraints.min_rating <= min(
        p.rating for p in good[:3])  # the sort itself never sets a floor
    mixed = decompose(_summary(S.SORT_ORDER_RATING_DESC, [good[0], good[1], poor[0]]), CATALOG)
    assert 0.5 <= mixed.preferences.listing_order.weight < 1.0  # the newest view disagrees: weaker
    contradicted = decompose(_summary(S.SORT_ORDER_RATING_DESC, [good[0], poor[0], poor[1]]), CATALOG)
    assert not contradicted.preferences.HasField("listing_order")  # most views left the order: gone
    # the shop's default order or "newest" (the catalog has no dates) lean nowhere
    for order in (S.SORT_ORDER_RELEVANCE, S.SORT_ORDER_NEWEST, S.SORT_ORDER_UNSPECIFIED):
        assert not decompose(_summary(order, good[:2]), CATALOG).preferences.HasField("listing_order")


def _panel(order: int, weight: float, category: str) -> list:
    request = optimization_pb2.OptimizationRequest(session_id="s", window_seq=1, k=8)
    request.constraints.categories.append(category)
    if order:
        request.preferences.listing_order.order = order
        request.preferences.listing_order.weight = weight
    assortment, candidates = recommend(CATALOG, request)
    return [CATALOG.products[int(candidates[i])] for i in assortment.indices]


def test_the_lean_moves_the_panel_to_that_end_of_the_type() -> None:
    category = CATALOG.products[0].category
    plain = _panel(0, 0.0, category)
    by_rating = _panel(S.SORT_ORDER_RATING_DESC, 1.0, category)
    cheapest = _panel(S.SORT_ORDER_PRICE_ASC, 1.0, category)
    dearest = _panel(S.SORT_ORDER_PRICE_DESC, 1.0, category)
    assert np.mean([p.rating for p in by_rating]) > np.mean([p.rating for p in plain])
    type_median = np.median([p.price for p in CATALOG.products if p.category == category])
    assert np.median([p.price for p in cheapest]) < type_median < np.median([p.price for p in plain])
    assert np.median([p.price for p in dearest]) >= np.median([p.price for p in plain])
    # a faded lean weighs less: the attraction of a badly rated product is cut less
    idx = np.array([i for i, p in enumerate(CATALOG.products) if p.category == category])
    prefs = optimization_pb2.Preferences()
    base = attraction(CATALOG, idx, prefs)
    prefs.listing_order.order, prefs.listing_order.weight = S.SORT_ORDER_RATING_DESC, 1.0
    full = attraction(CATALOG, idx, prefs)
    prefs.listing_order.weight = 0.5
    half = attraction(CATALOG, idx, prefs)
    worst = int(np.argmin(CATALOG.rating[idx]))
    assert full[worst] < half[worst] < base[worst]
