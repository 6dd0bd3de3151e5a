"""The demo shop over a small generated catalog: pages render, search and filters really work."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from fastapi.testclient import TestClient

from infra.kafka.broker import free_port
from services.common.catalog import Catalog
from services.common.demo_catalog import generate
from services.common.keys import valid_session_id
from services.demo_shop import merchandising
from services.demo_shop.app import PAGE_SIZE, create_app
from services.demo_shop.session import COOKIE, SessionCookies

STOREFRONT = "http://storefront.test:8600"
SECRET = b"demo-shop-unit-test-secret-0123456789"
CARD_ID = re.compile(r'data-role="product-link" data-product-id="(P\d{5})"')


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Catalog:
    return Catalog.load(generate(tmp_path_factory.mktemp("shop-catalog"), seed=7, n_products=600))


@pytest.fixture()
def client(catalog: Catalog) -> TestClient:
    return TestClient(create_app(catalog, STOREFRONT))


def _card_ids(html: str) -> list[str]:
    return CARD_ID.findall(html)


def test_home(client: TestClient, catalog: Catalog) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Free shipping on orders over $50" in r.text
    for category in catalog.categories:
        assert f'href="/c/{category}"' in r.text
    assert len(_card_ids(r.text)) == 8
    assert "Recommended for you" in r.text
    assert "Browsing… recommendations appear as we learn your taste." in r.text
    assert f'data-storefront="{STOREFRONT}"' in r.text and "/static/panel.js" in r.text
    assert "SKU:" not in r.text


def test_search_finds_a_product_by_title_words(client: TestClient, catalog: Catalog) -> None:
    product = catalog.products[17]
    model = product.title.split()[1]
    r = client.get("/search", params={"q": f"{product.brand.lower()} {model}"})
    assert r.status_code == 200
    ids = _card_ids(r.text)
    assert product.product_id in ids
    assert all(model in catalog.by_id[i].title and catalog.by_id[i].brand == product.brand for i in ids)
    assert "SKU:" not in r.text  # only the product page names the product being viewed


def test_search_by_brand_and_category(client: TestClient, catalog: Catalog) -> None:
    p = catalog.products[3]
    r = client.get("/search", params={"q": f"{p.brand} {p.category}"})
    expected = int(catalog.mask(brands=[p.brand], categories=[p.category]).sum())
    assert f"{expected} product" in r.text
    assert all(catalog.by_id[i].brand == p.brand and catalog.by_id[i].category == p.category
               for i in _card_ids(r.text))


def test_search_without_hits(client: TestClient) -> None:
    r = client.get("/search", params={"q": "zzzqqq"})
    assert r.status_code == 200 and "No products match" in r.text and not _card_ids(r.text)


def test_category_page_lists_only_that_category(client: TestClient, catalog: Catalog) -> None:
    category = catalog.categories[0]
    r = client.get(f"/c/{category}")
    assert r.status_code == 200
    ids = _card_ids(r.text)
    assert len(ids) == min(PAGE_SIZE, int(catalog.mask(categories=[category]).sum()))
    assert all(catalog.by_id[i].category == category for i in ids)
    assert "Home</a> / <span>" in r.text and 'id="filters"' in r.text and "No filters applied" in r.text


def test_category_filters_really_filter(client: TestClient, catalog: Catalog) -> None:
    p = catalog.products[5]
    r = client.get(f"/c/{p.category}", params={"brand": p.brand})
    ids = _card_ids(r.text)
    expected = catalog.mask(categories=[p.category], brands=[p.brand])
    assert sorted(ids) == sorted(catalog.products[i].product_id for i in expected.nonzero()[0])
    assert f"Brand: {p.brand}" in r.text

    r = client.get(f"/c/{p.category}", params={"colour": p.colour, "price_min": "40", "price_max": "150"})
    ids = _card_ids(r.text)
    if 40 <= p.price <= 150:
        assert p.product_id in ids
    for i in ids:
        q = catalog.by_id[i]
        assert q.category == p.category and q.colour == p.colour and 40 <= q.price <= 150
    assert f"Colour: {p.colour}" in r.text and "Price: $40.00 - $150.00" in r.text

    # an empty price field (as the form submits it) means no bound
    r = client.get(f"/c/{p.category}", params={"brand": p.brand, "colour": "", "price_min": "", "price_max": ""})
    assert sorted(_card_ids(r.text)) == sorted(catalog.products[i].product_id for i in expected.nonzero()[0])


def test_category_sort_and_pages(client: TestClient, catalog: Catalog) -> None:
    category = catalog.categories[1]
    r1 = client.get(f"/c/{category}", params={"sort": "price_asc"})
    prices = [catalog.by_id[i].price for i in _card_ids(r1.text)]
    assert prices == sorted(prices)
    r2 = client.get(f"/c/{category}", params={"sort": "price_asc", "page": 2})
    assert not set(_card_ids(r1.text)) & set(_card_ids(r2.text))
    assert min(catalog.by_id[i].price for i in _card_ids(r2.text)) >= prices[-1]


def test_product_page(client: TestClient, catalog: Catalog) -> None:
    p = catalog.products[42]
    r = client.get(f"/p/{p.product_id}")
    assert r.status_code == 200
    html = r.text
    assert f'<h1 class="product-title" data-role="product-title">{p.title}</h1>' in html
    assert "Home</a> / <a" in html and f">{p.category}</a>" in html
    assert f"Brand: {p.brand}" in html
    assert f"${p.price:,.2f}" in html
    assert f"Colour: {p.colour}" in html
    assert f"Rating: {p.rating:.1f} / 5 ({p.review_count} review" in html
    assert f"SKU: {p.product_id}" in html
    assert p.description in html
    for key, value in p.spec_pairs:
        assert f"<th>{key}</th><td>{value}</td>" in html
    assert f'src="/images/{p.image}"' in html
    assert f"<title>{p.title} | InteraShop</title>" in html


def test_unknown_pages_are_404(client: TestClient) -> None:
    for path in ("/p/P99999x", "/c/Spaceships", "/no/such/page", "/images/nope.png"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Page not found" in r.text


def test_images_are_served_without_traversal(client: TestClient, catalog: Catalog) -> None:
    r = client.get(f"/images/{catalog.products[0].image}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert client.get("/images/..%2Fcatalog.parquet").status_code == 404


def _session_of(page: str) -> str:
    return re.search(r'data-session="([^"]+)"', page).group(1)


def test_the_shop_issues_the_session_and_ignores_a_chosen_one(catalog: Catalog) -> None:
    """Session fixation: a link with ?session=<someone's id> must not make the visitor that session (the shop
    then minted a panel token for it, so the link's author could read the victim's recommendations)."""
    client = TestClient(create_app(catalog, STOREFRONT))
    r = client.get("/", params={"session": "shopper-42"})
    sid = _session_of(r.text)
    assert sid != "shopper-42" and "shopper-42" not in r.headers.get("set-cookie", "")
    assert r.cookies.get(COOKIE).startswith(f"{sid}.")  # <id>.<signature>
    r = client.get("/search", params={"q": "boots", "session": "shopper-42"})  # the cookie jar carries it
    assert _session_of(r.text) == sid and COOKIE not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize("forged", ["shopper-42", "shopper-42.AAAAAAAAAAAAAAAAAAAAAAAA", "..", "a.b.c", ""])
def test_a_forged_session_cookie_is_replaced(catalog: Catalog, forged: str) -> None:
    client = TestClient(create_app(catalog, STOREFRONT), cookies={COOKIE: forged})
    r = client.get("/")
    sid = _session_of(r.text)
    assert sid != "shopper-42" and valid_session_id(sid)
    assert r.cookies.get(COOKIE).startswith(f"{sid}.")


def test_a_cookie_signed_by_another_shop_is_replaced(catalog: Catalog) -> None:
    mine, other = SessionCookies(SECRET), SessionCookies(b"another-shop-secret-0123456789abcdef")
    client = TestClient(create_app(catalog, STOREFRONT, session_secret=SECRET),
                        cookies={COOKIE: other.sign("shopper-42")})
    sid = _session_of(client.get("/").text)
    assert sid != "shopper-42"
    again = TestClient(create_app(catalog, STOREFRONT, session_secret=SECRET), cookies={COOKIE: mine.sign(sid)})
    assert _session_of(again.get("/").text) == sid  # the same shop (secret) keeps its own visitor


def test_new_visitor_gets_a_random_session(catalog: Catalog) -> None:
    first = TestClient(create_app(catalog, STOREFRONT)).get("/")
    second = TestClient(create_app(catalog, STOREFRONT)).get("/")
    a, b = _session_of(first.text), _session_of(second.text)
    assert a and b and a != b and valid_session_id(a) and first.cookies.get(COOKIE).startswith(f"{a}.")


def test_health_and_panel_script(client: TestClient, catalog: Catalog) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "products": len(catalog)}
    js = client.get("/static/panel.js")
    assert js.status_code == 200
    assert '"/v1/sessions/"' in js.text and '"recommendation"' in js.text and "EventSource" in js.text
    assert "Why: " in js.text and "SKU" not in js.text
    assert client.get("/static/shop.css").status_code == 200


def test_shop_degrades_when_the_storefront_api_is_down(catalog: Catalog) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # a port nobody listens on
    with TestClient(create_app(catalog, closed, api_key="k")) as client:
        product = catalog.products[0]
        page = client.get(f"/p/{product.product_id}")
        assert page.status_code == 200 and product.title in page.text and "similar-products" not in page.text
        search = client.get("/search", params={"q": "black"})
        assert search.status_code == 200 and "query-picks" not in search.text
        assert client.get("/panel-token").status_code == 503


# ---------------------------------------------------------------- the boutique layout


@pytest.fixture()
def boutique(catalog: Catalog) -> TestClient:
    return TestClient(create_app(catalog, STOREFRONT, layout="boutique"))


def _visible_text(html: str) -> str:
    """What a browser shows: no tags, attributes, head or scripts."""
    html = re.sub(r"(?s)<(head|script)\b.*?</\1>", " ", html)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))


def test_unknown_layout_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="classic, boutique"):
        create_app(catalog, STOREFRONT, layout="fancy")


def test_boutique_product_page_shows_no_id(boutique: TestClient, catalog: Catalog) -> None:
    on_sale = next(p for p in catalog.products if merchandising.list_price(p) and p.review_count > 3)
    for p in (catalog.products[42], on_sale):
        html = boutique.get(f"/p/{p.product_id}").text
        text = _visible_text(html)
        assert p.product_id not in text and "SKU" not in text
        assert f'data-role="product-title">{p.title}</h1>' in html
        assert f"Visit the {p.brand} store" in text and f"${p.price:,.2f}" in text
        assert f"({p.review_count:,})" in text and merchandising.stars(p.rating) in text
        assert "Colour:" not in text  # colour only as swatch names, the product's own among others
        swatches = re.findall(r'<span class="swatch( selected)?">(\w+)</span>', html)
        assert (" selected", p.colour) in swatches and len(swatches) >= 2
        assert "Customer reviews" in text and "Maison Verde" in text
    lp = merchandising.list_price(on_sale)
    assert lp > on_sale.price and f"List: <s>${lp:,.2f}</s>" in boutique.get(f"/p/{on_sale.product_id}").text


def test_boutique_listing_filters_and_promotion(boutique: TestClient, catalog: Catalog) -> None:
    p = catalog.products[5]
    r = boutique.get(f"/c/{p.category}", params={"brand": p.brand})
    expected = catalog.mask(categories=[p.category], brands=[p.brand])
    assert sorted(_card_ids(r.text)) == sorted(catalog.products[i].product_id for i in expected.nonzero()[0])
    deal = merchandising.deal(catalog, p.category)
    text = _visible_text(r.text)
    assert f"Editor's pick: {deal.title} now ${deal.price:,.2f}" in text
    assert f"Brand: {p.brand}" in text and not re.search(r"\bP\d{5}\b", text)
    assert 'id="filter-colour"' in r.text and 'id="filter-apply"' in r.text  # the shoppers' selectors


def test_boutique_compare_page(boutique: TestClient, catalog: Catalog) -> None:
    p = catalog.products[9]
    html = boutique.get(f"/p/{p.product_id}").text
    link = re.search(r'href="(/compare\?ids=[^"]+)"', html).group(1)
    r = boutique.get(link.replace("&amp;", "&"))
    assert r.status_code == 200
    ids = _card_ids(r.text)
    assert ids[0] == p.product_id and len(ids) == 4
    assert all(catalog.by_id[i].category == p.category for i in ids)
    text = _visible_text(r.text)
    assert all(catalog.by_id[i].title in text and catalog.by_id[i].product_id not in text for i in ids)
    assert boutique.get("/compare", params={"ids": "nope"}).status_code == 404
