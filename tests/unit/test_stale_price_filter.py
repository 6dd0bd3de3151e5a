"""A price filter the shopper's views have left lends nothing to the budget inferred from them (issue 17 item 4).

decompose keeps a price filter only while most views fall inside it; otherwise the hard band is the one read off
the views. The relaxation still ranked that inferred band as the shopper's own statement (tier "stated", above
the product type and brand), so when the new type's band, brand and type could not fill the panel together it
dropped the type and the brand and kept the band: theme-2 `intent-brand-switch` (Tavora backpacks, then Ardent
footwear), with a phantom "Price: $99 – $249" chip read off a sale card, got a panel of anything priced $94-95.5,
1 of 8 right, until its next listing."""

from __future__ import annotations

import pytest

from interarec.v1 import summaries_pb2
from services.common.catalog import Catalog, Product
from services.common.demo_catalog import build_rows
from services.core.decompose.rules import decompose
from services.core.reading import filters as chips

# the session's views: three Tavora backpacks, then three Ardent shoes, two of them at $95 and $94.50
VIEWED = ("P18218", "P58668", "P41030", "P65281", "P90727", "P14120")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog([Product(**row) for row in build_rows(seed=7, n_products=2400)])


def _summary(catalog: Catalog, price_filter: tuple[float, float] | None) -> summaries_pb2.BehaviourSummary:
    s = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=9, backend="embedded")
    for pid in VIEWED:
        p = catalog.by_id[pid]
        s.viewed_products.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                              colour=p.colour, price=p.price, frames=2, confidence=0.9)
    s.search_queries.append("Tavora Backpacks")
    if price_filter is not None:
        s.ui_filter_fields.append(chips.to_ui_filter(chips.price(*price_filter)))
    return s


def test_a_price_filter_the_views_left_does_not_make_the_inferred_band_outlast_type_and_brand(catalog) -> None:
    without = decompose(_summary(catalog, None), catalog).constraints
    assert list(without.categories) == ["Footwear"] and list(without.brands) == ["Ardent"]
    with_stale = decompose(_summary(catalog, (99.0, 249.0)), catalog).constraints
    # the filter holds 2 of the 6 views (the older backpacks): stale, so it changes nothing
    assert list(with_stale.categories) == ["Footwear"] and list(with_stale.brands) == ["Ardent"]
    assert (with_stale.price_min, with_stale.price_max) == (without.price_min, without.price_max)


def test_a_price_filter_the_views_follow_still_outlasts_the_inferred_terms(catalog) -> None:
    """The stated tier itself is unchanged: a filter the views keep to (4 of the 6, the newest among them) is the
    band, and when the panel cannot be filled an inferred constraint yields while the filter stays as set."""
    request = decompose(_summary(catalog, (40.0, 100.0)), catalog)
    c = request.constraints
    assert (c.price_min, c.price_max) == (40.0, 100.0)
    relaxed = [r.constraint for r in request.relaxations]
    assert relaxed and "price_band" not in relaxed
