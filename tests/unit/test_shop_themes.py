"""The seeded shop themes (services/demo_shop/themes.py) and the demo shop rendering them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from services.common.catalog import Catalog
from services.demo_shop import merchandising
from services.demo_shop.app import create_app
from services.demo_shop.themes import (
    BRAND_PLACES,
    IMAGE_SIDES,
    PICKERS,
    PRICE_FORMATS,
    SALE_LAYOUTS,
    SORT_FORMS,
    SORT_LABELS,
    SORT_WORDING,
    STAR_FORMATS,
    theme,
    theme_number,
)


def test_a_theme_never_changes_and_twenty_cover_every_choice() -> None:
    assert theme(7) == theme(7)
    twenty = [theme(n) for n in range(1, 21)]
    for attr, values in (("price_format", PRICE_FORMATS), ("sale_layout", SALE_LAYOUTS),
                         ("brand_place", BRAND_PLACES), ("image_side", IMAGE_SIDES), ("picker", PICKERS),
                         ("star_format", STAR_FORMATS), ("sort_form", SORT_FORMS), ("sort_label", SORT_LABELS)):
        assert {getattr(t, attr) for t in twenty} == set(values), attr
    assert {t.dark for t in twenty} == {True, False}
    assert any(t.cookie_banner for t in twenty) and any(t.sticky_header for t in twenty)
    assert len({(t.body_font, t.price_format, t.brand_place, t.picker) for t in twenty}) == 20


@pytest.mark.parametrize(("fmt", "text"), [("symbol", "$83.00"), ("symbol_code", "$83.00 USD"),
                                           ("code_first", "USD 83.00"), ("comma_after", "83,00 $")])
def test_price_formats(fmt: str, text: str) -> None:
    t = next(theme(n) for n in range(1, 30) if theme(n).price_format == fmt)
    assert t.price(83) == text


def test_layout_names() -> None:
    assert theme_number("theme-12") == 12
    assert theme_number("theme-0") is None and theme_number("boutique") is None and theme_number("theme-x") is None


@pytest.fixture(scope="module")
def catalog(catalog_path) -> Catalog:
    return Catalog.load(catalog_path)


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_themed_shop_serves_the_same_routes(catalog: Catalog, number: int) -> None:
    t = theme(number)
    client = TestClient(create_app(catalog, "http://127.0.0.1:9", layout=t.layout))
    p = next(p for p in catalog.products if merchandising.list_price(p))
    page = client.get(f"/p/{p.product_id}")
    assert page.status_code == 200
    html = page.text
    assert p.title in html and t.price(p.price) in html and t.buy_label in html
    assert 'data-role="product-title"' in html and "Recommended for you" in html
    # the variant picker offers other colours besides the product's own
    assert len([c for c in merchandising.swatches(p, catalog) if c in html]) >= 2
    listing = client.get(f"/c/{p.category}", params={"colour": p.colour})
    assert listing.status_code == 200 and 'id="filter-colour"' in listing.text
    assert re.search(r'data-role="product-link"', client.get("/search", params={"q": p.brand}).text)
    assert client.get("/").status_code == 200
    assert client.get(f"/compare?ids={p.product_id}").status_code == 200
    assert client.get("/p/NOPE").status_code == 404


def test_sort_wording_is_in_the_default_profiles_families() -> None:
    # the themes test the reader's wording: each order's words name that order, and only it, for the default profile
    from services.core.reading.profile import load_profile
    from services.core.reading.sort_order import SortPatterns

    patterns = SortPatterns.build(load_profile())
    want = {"popular": "relevance", "price_asc": "price_asc", "price_desc": "price_desc", "rating": "rating_desc"}
    for key, words in SORT_WORDING.items():
        for text in words:
            assert patterns.named(text) == {want[key]}, text
    assert all(patterns.label.fullmatch(label) for label in SORT_LABELS)
    assert len({theme(n).sort_words["rating"] for n in range(1, 21)}) == len(SORT_WORDING["rating"])


@pytest.mark.parametrize("number", [1, 2, 3])  # one of each sort form
def test_themed_listing_shows_the_chosen_sort_in_its_words(catalog: Catalog, number: int) -> None:
    t = theme(number)
    client = TestClient(create_app(catalog, "http://127.0.0.1:9", layout=t.layout))
    html = client.get(f"/c/{catalog.products[0].category}", params={"sort": "rating"}).text
    # the select the scripted shoppers use, submitted with the filters wherever the theme draws it
    assert re.search(r'<select name="sort" id="filter-sort" form="filters">', html)
    assert f'<option value="rating" selected>{t.sort_words["rating"]}</option>' in html
    assert t.sort_label in html


def test_unknown_layout_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="theme-<n>"):
        create_app(catalog, "http://127.0.0.1:9", layout="theme-zero")
