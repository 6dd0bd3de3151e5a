"""A listing's chosen sort order read off real Chromium frames of the demo shop (issue 17 item 2): the shopper's
"Sort: Top rated" was on screen only in the sort select, which nothing read. Captured with
infra/bench/capture_screens.py's helpers (`_shop`, `_shoot`: the panel filled, JPEG q80 at 1280x800; the .webp ones
by infra/bench/sort_bench.py --save) from `/c/<type>?sort=<order>`, on both layouts and two seeded themes
(services/demo_shop/themes.py), each
read by a fresh reader with the DEFAULT profile (the .webp frames: the decoded pixels, kept losslessly). On the
boutique layout the sidebar's "Order by" label touches the select's frame, and the line finder found the two as one
box, dropped as a thin ring when the option is short ("Top rated"): read now by splitting the label off the frame's
top edge (reader.label_on_frame)."""

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
@pytest.mark.parametrize(("file", "order", "kind"), [
    ("classic-listing-sort-rating.jpg", "rating_desc", "listing"),  # a "Sort" label over a select showing "Top rated"
    ("theme-4-listing-sort-price-asc.jpg", "price_asc", "listing"),  # a sidebar's last select, past the cards' budget
    ("theme-1-listing-sort-default.jpg", "relevance", "listing"),  # the shop's default order ("Most reviewed"): no lean
    # the label drawn on the select's frame: one thin ring with it ("Top rated"), or one framed line ("Most reviewed",
    # a frame of the recorded held-out session brand-loyal)
    ("boutique-listing-sort-rating.webp", "rating_desc", "listing"),
    ("boutique-session-listing-lamps.webp", "relevance", None),
    # a select wider than its option: its frame is a ring apart from its text, the last control of a row of five
    ("classic-listing-sort-price-asc.webp", "price_asc", "listing"),
    # the theme generator's other forms and wording: "Sort" left of its select, drawn with it as one thin ring; "Sort
    # by" on a select box barely taller than the label ("Lowest price")
    ("theme-1-listing-sort-beside-rating.webp", "rating_desc", None),
    ("theme-2-listing-sort-by-price-asc.webp", "price_asc", None),
    # dark: "Sort by" over its select, the two one box that does not look framed as a whole ("Price: high to low")
    ("theme-15-listing-sort-by-price-desc.webp", "price_desc", None),
])
def test_a_listing_frame_shows_its_chosen_sort_order(catalog: Catalog, file: str, order: str, kind: str | None) -> None:
    with Image.open(SCREENS / file) as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/c/Watches")
    assert obs.sort_order == order
    assert not obs.filters  # a sort is no filter: "Price: low to high" is not read as a price chip
    # kind None: a fresh reader spends part of its first frame looking for our panel and does not tell these pages'
    # kind yet (a summary uses the order of listings only); in a session it has seen a page of the shop before
    assert kind is None or obs.kind == kind


@needs_tesseract
def test_a_product_page_has_no_sort_order(catalog: Catalog) -> None:
    with Image.open(SCREENS / "classic-product-00.jpg") as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/p/x")
    assert obs.kind == "product" and obs.sort_order is None
