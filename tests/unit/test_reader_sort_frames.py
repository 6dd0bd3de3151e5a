"""A listing's chosen sort order read off real Chromium frames of the demo shop (issue 17 item 2): the shopper's
"Sort: Top rated" was on screen only in the sort select, which nothing read. Captured with
infra/bench/capture_screens.py's helpers (`_shop`, `_shoot`: the panel filled, JPEG q80 at 1280x800) from
`/c/Watches?sort=<order>`, on the classic layout and on two seeded themes (services/demo_shop/themes.py), each
read by a fresh reader with the DEFAULT profile. The boutique layout is not here: its sidebar's "Order by" label
touches the select's frame, and the line finder drops the two as one thin ring (not read; see the README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.common.catalog import Catalog, Product
from services.common.demo_catalog import build_rows
from services.core.reading import tesslib
from services.core.reading.reader import FrameReader

SCREENS = Path(__file__).parents[1] / "fixtures" / "screens"
needs_tesseract = pytest.mark.skipif(not tesslib.available(),
                                     reason="needs libtesseract (apt-get install tesseract-ocr)")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The catalog the screenshots were taken from (rows only: the reader needs no images)."""
    return Catalog([Product(**row) for row in build_rows(seed=7, n_products=2400)])


@needs_tesseract
@pytest.mark.parametrize(("file", "order"), [
    ("classic-listing-sort-rating.jpg", "rating_desc"),  # a "Sort" label over a select showing "Top rated"
    ("theme-4-listing-sort-price-asc.jpg", "price_asc"),  # a sidebar's last select, past the cards' read budget
    ("theme-1-listing-sort-default.jpg", "relevance"),  # the shop's default order ("Most reviewed"): no lean
])
def test_a_listing_frame_shows_its_chosen_sort_order(catalog: Catalog, file: str, order: str) -> None:
    with Image.open(SCREENS / file) as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/c/Watches")
    assert obs.kind == "listing"
    assert obs.sort_order == order
    assert not obs.filters  # a sort is no filter: "Price: low to high" is not read as a price chip


@needs_tesseract
def test_a_product_page_has_no_sort_order(catalog: Catalog) -> None:
    with Image.open(SCREENS / "classic-product-00.jpg") as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/p/x")
    assert obs.kind == "product" and obs.sort_order is None
