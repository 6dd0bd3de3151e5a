"""A grid of product cards scrolled past its heading and search box is a listing, not the first card's product
page (held-out boutique sessions: a scrolled search page named a product the shopper never opened)."""

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
    """The catalog the screenshot was taken from (rows only: the reader needs no images)."""
    return Catalog([Product(**row) for row in build_rows(seed=7, n_products=2400)])


@pytest.mark.skipif(not tesslib.available(), reason="needs libtesseract (apt-get install tesseract-ocr)")
def test_a_scrolled_grid_of_cards_is_a_listing_not_its_first_cards_product_page(catalog: Catalog) -> None:
    # A real Chromium frame of a search results page scrolled down: no masthead, no search box, no product-page
    # wording; the first row's titles lead the page, each with its price beside it.
    with Image.open(SCREENS / "boutique-search-scrolled-grid.jpg") as im:
        obs = FrameReader(catalog).observe(im.convert("RGB"), page_url="http://shop/search?q=Wexford+Sunglasses")
    assert obs.kind != "product" and obs.product_id is None
    titles = {catalog.by_id[pid].title for pid in obs.listing_product_ids}
    assert "Wexford Valley Aviators N3" in titles and len(titles) >= 2  # read as the listing it is
