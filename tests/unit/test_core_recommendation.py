"""The one Recommendation builder (services/core/assortment/recommendation.py) that both the optimizer's worker
and the storefront's in-process queries call: the drift bugs of issue 16 stay fixed."""

import dataclasses

import pytest
from fastapi.testclient import TestClient

from interarec.v1 import optimization_pb2
from services.common import config
from services.common.tenants import ApiKeys
from services.core import business_rules
from services.core.assortment.recommendation import build_recommendation, image_url, parse_image_base, rule_note
from services.storefront_api.app import StorefrontSettings, create_app
from services.storefront_api.assortments import solve
from services.storefront_api.queries import similar_request
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240)
PRODUCT = CATALOG.by_id["P00001"]


def rules(doc) -> tuple[business_rules.Rule, ...]:
    return business_rules.parse_rules({"acme": doc})["acme"]


def test_storefront_reports_the_solvers_own_status_not_a_hard_coded_optimal():
    # Before: the storefront wrote solve_status="optimal" whatever the solver said.
    assert solve(CATALOG, similar_request(CATALOG, PRODUCT, 4, "acme")).solve_status == "optimal"
    rec = solve(CATALOG, similar_request(CATALOG, PRODUCT, 4, "acme"), time_limit_s=0.0)
    assert rec.solve_status == "time_limit" and rec.items
    assert "time limit reached: best feasible assortment found" in rec.shaping_constraints


def test_storefront_keeps_the_solvers_shaping_notes():
    # Before: the storefront's copy dropped every note but the rule names (a pin lost to k said nothing).
    base = solve(CATALOG, similar_request(CATALOG, PRODUCT, 2, "acme"))
    candidates = [p.product_id for p in CATALOG.products if p.category == PRODUCT.category
                  and p.product_id != PRODUCT.product_id][:3]
    pin = rules([{"name": "pin3", "pin_products": candidates}])
    rec = solve(CATALOG, similar_request(CATALOG, PRODUCT, 2, "acme"), pin)
    assert len(rec.items) == 2 and base.items
    assert f"pinned product {candidates[2]} dropped: more pins than k=2" in rec.shaping_constraints
    pinned = [i for i in rec.items if i.product_id in candidates[:2]]
    assert len(pinned) == 2 and all(rule_note("pin3") in i.reason.rules for i in pinned)


def test_a_rule_that_changed_the_set_is_named_once_in_one_format_on_both_paths():
    # Before: the optimizer wrote "rule: X" for every applied rule and "rule X" for the ones that changed
    # the set; the storefront wrote only "rule X".
    top = solve(CATALOG, similar_request(CATALOG, PRODUCT, 4, "acme")).items[0].product_id
    elsewhere = next(p.product_id for p in CATALOG.products if p.category != PRODUCT.category)  # never similar
    doc = [{"name": "hide-top", "exclude_products": [top]}, {"name": "hide-other", "exclude_products": [elsewhere]}]
    storefront = solve(CATALOG, similar_request(CATALOG, PRODUCT, 4, "acme"), rules(doc))
    request = similar_request(CATALOG, PRODUCT, 4, "acme")
    business_rules.merge(request, rules(doc))
    worker = build_recommendation(CATALOG, request, rules(doc))  # what the optimizer's worker calls
    for rec in (storefront, worker):
        notes = [n for n in rec.shaping_constraints if "hide-" in n]
        assert notes == ["rule: hide-top"], notes
        assert list(rec.request.applied_rules) == ["hide-top", "hide-other"]
    assert [i.product_id for i in storefront.items] == [i.product_id for i in worker.items]


def test_items_carry_image_urls_from_one_setting():
    request = optimization_pb2.OptimizationRequest(tenant="acme", k=3)
    rec = build_recommendation(CATALOG, request, image_base="https://cdn.example/img/")
    assert rec.items and all(i.image_url == f"https://cdn.example/img/{CATALOG.by_id[i.product_id].image}"
                             for i in rec.items)
    # no base: the catalog's column as it is, never a route only the demo shop serves
    plain = build_recommendation(CATALOG, optimization_pb2.OptimizationRequest(tenant="acme", k=3))
    assert all(i.image_url == CATALOG.by_id[i.product_id].image for i in plain.items)


def test_a_catalog_image_that_is_a_url_is_kept_and_the_base_setting_is_validated():
    p = dataclasses.replace(CATALOG.products[0], image="https://img.example/a.png")
    assert image_url(p, "/images/") == "https://img.example/a.png"
    assert image_url(CATALOG.products[0], "/images/") == f"/images/{CATALOG.products[0].image}"
    assert parse_image_base("") == "" and parse_image_base("/pics") == "/pics/"
    assert parse_image_base(" https://cdn.example/x/ ") == "https://cdn.example/x/"
    for bad in ("images/", "javascript:alert(1)", "ftp://x/", "/a b/"):
        with pytest.raises(config.ConfigError, match="INTERAREC_IMAGE_BASE_URL"):
            parse_image_base(bad)


def test_the_storefronts_queries_use_its_image_base_setting():
    settings = StorefrontSettings(host="127.0.0.1", port=1, bootstrap="127.0.0.1:1", cors_origins=[],
                                  api_keys=ApiKeys.from_plain({"k-acme": "acme"}), token_secret=b"s" * 32,
                                  image_base_url="https://cdn.shop.example/p/")
    client = TestClient(create_app(settings, CATALOG))  # no lifespan: the Kafka reader is not started
    r = client.get(f"/v1/products/{PRODUCT.product_id}/similar", params={"k": 3}, headers={"X-API-Key": "k-acme"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(i["image_url"] == f"https://cdn.shop.example/p/{CATALOG.by_id[i['product_id']].image}"
                         for i in items)
