"""The demo shop carries the capture script like a real shop: one tag per page with the visitor's session,
a same-origin token URL and no API key; without a gateway URL there is no tag at all."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from services.common.catalog import Catalog
from services.common.demo_catalog import generate
from services.demo_shop.app import create_app
from services.demo_shop.capture import SCRIPT_PATH

GATEWAY = "https://gateway.example"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Catalog:
    return Catalog.load(generate(tmp_path_factory.mktemp("catalog"), seed=3, n_products=300))


@pytest.mark.parametrize("layout", ["classic", "boutique"])
def test_every_page_carries_the_script_for_its_session(catalog, tmp_path, monkeypatch, layout):
    bundle = tmp_path / "interarec-capture.js"
    bundle.write_text("window.InteraRec = {consent() {}};")
    monkeypatch.setattr("services.demo_shop.capture.BUNDLE", bundle)  # a stand-in: the real one needs npm
    client = TestClient(create_app(catalog, "http://127.0.0.1:9", api_key="secret-key", layout=layout,
                                   capture_gateway_url=GATEWAY + "/"))
    pid = catalog.products[0].product_id
    # the session the shop issued to this visitor (its signed cookie), never one a URL names
    visitor = re.search(r'data-session="([^"]+)"', client.get("/", params={"session": "visitor-1"}).text).group(1)
    assert visitor != "visitor-1"
    for path in ("/", f"/p/{pid}", f"/c/{catalog.categories[0]}", "/search?q=bag"):
        page = client.get(path).text
        assert f'<script src="{SCRIPT_PATH}" data-gateway="{GATEWAY}" data-session-id="{visitor}"' in page, path
        assert 'data-token-url="/panel-token"' in page and "InteraRec.consent(true)" in page
        assert "secret-key" not in page  # the tenant's key never reaches a page
    script = client.get(SCRIPT_PATH)
    assert script.status_code == 200 and script.text.startswith("window.InteraRec")
    assert script.headers["content-type"].startswith("text/javascript")


def test_without_a_gateway_url_there_is_no_script(catalog):
    client = TestClient(create_app(catalog, "http://storefront.example"))
    assert "interarec-capture" not in client.get("/").text
    assert client.get(SCRIPT_PATH).status_code == 404


def test_a_gateway_url_without_a_built_bundle_fails_at_start(catalog, tmp_path):
    from services.demo_shop import capture

    with pytest.raises(FileNotFoundError, match="make capture-js"):
        capture.install(create_app(catalog, "http://storefront.example"), None, GATEWAY, bundle=tmp_path / "no.js")
