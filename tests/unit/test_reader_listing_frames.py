"""Listing frames of a real layout read as listings: the filters the shopper set, shown as filled chips beside a
sidebar of select boxes (issue 17 item 2: the boutique's price band waited for three viewed prices), and a grid of
cards scrolled past its heading, which is no product page (a held-out boutique session named a product the
shopper never opened)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.common.catalog import Catalog, Product
from services.common.demo_catalog import build_rows
from services.core.reading import tesslib
from services.core.reading.reader import FrameReader

SCREENS = Path(__file__).parents[1] / "fixtures" / "screens"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The catalog the screenshots were taken from (rows only: the reader needs no images)."""
    return Catalog([Product(**row) for row in build_rows(seed=7, n_products=2400)])


@pytest.mark.skipif(not tesslib.available(), reason="needs libtesseract (apt-get install tesseract-ocr)")
def test_a_filled_price_chip_beside_a_select_box_is_read_as_the_price_filter(catalog: Catalog) -> None:
    # A real Chromium frame of a filtered listing: a dark pill "Price: $135.00 - $145.00 x" a few pixels right of
    # the sidebar's colour select. Before, the two merged into one line that read as neither, and alone the pill
    # still read as nothing (tesseract skips a line framed in black, which the light page around the pill
    # becomes once the crop is made dark on light).
    with Image.open(SCREENS / "boutique-listing-price-chip.jpg") as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/c/Footwear")
    assert obs.kind == "listing" and obs.category == "Footwear"
    assert obs.filter_labels == ["Price: $135 – $145"]
    assert not {135.0, 145.0} & set(obs.prices)  # a filter's bounds are no product's price


@pytest.mark.skipif(not tesslib.available(), reason="needs libtesseract (apt-get install tesseract-ocr)")
def test_a_filled_brand_chip_beside_a_dark_on_light_link_is_read_as_the_brand_filter(catalog: Catalog) -> None:
    # The same layout with a short chip, "Brand: Tundra x", and a "Clear all" link beside it on the page: most of
    # the line is light, so the line stays as it is, and the chip's light text on its dark fill read as nothing.
    with Image.open(SCREENS / "boutique-listing-brand-chip.jpg") as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/c/Lamps")
    assert obs.kind == "listing"
    assert obs.filter_labels == ["Brand: Tundra"]


@pytest.mark.skipif(not tesslib.available(), reason="needs libtesseract (apt-get install tesseract-ocr)")
def test_a_scrolled_grid_of_cards_is_a_listing_not_its_first_cards_product_page(catalog: Catalog) -> None:
    # A real Chromium frame of a search results page scrolled down: no masthead, no search box, no product-page
    # wording; the first row's titles lead the page, each with its price beside it.
    with Image.open(SCREENS / "boutique-search-scrolled-grid.jpg") as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/search?q=Wexford+Sunglasses")
    assert obs.kind != "product" and obs.product_id is None
    titles = {catalog.by_id[pid].title for pid in obs.listing_product_ids}
    assert "Wexford Valley Aviators N3" in titles and len(titles) >= 2  # read as the listing it is


@pytest.mark.skipif(not tesslib.available(), reason="needs libtesseract (apt-get install tesseract-ocr)")
def test_filled_chips_read_with_bigger_lines_in_the_same_strip_are_the_filters(catalog: Catalog) -> None:
    # Three real Chromium frames of one session: the Headphones listing as it loads and once shown, then the same
    # listing filtered, with the dark pills "Brand: Kestrel x" and "Colour: Black x" under its heading. Read in
    # order, as the summarizer does, the last frame's header and sidebar are known lines, so the pills shared the
    # strip with the cards' titles and prices: scaled by their 31 px boxes, the pills' 12 px words came out half
    # their size and tesseract read them as nothing (held-out brand-colour-filter: first good panel 10 s late).
    reader = FrameReader(catalog)
    url = "http://shop/c/Headphones"
    for name in ("boutique-listing-before-chips-0.jpg", "boutique-listing-before-chips-1.jpg"):
        with Image.open(SCREENS / name) as im:
            reader.observe(im.convert("RGB"), page_url=url)
    with Image.open(SCREENS / "boutique-listing-brand-colour-chips.jpg") as im:
        obs = reader.observe(im.convert("RGB"), page_url=url + "?brand=Kestrel&colour=Black")
    assert obs.kind == "listing"
    assert obs.filter_labels == ["Brand: Kestrel", "Colour: Black"]
