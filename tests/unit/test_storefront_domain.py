"""Business rules, similar/text/image requests, per-item reasons, feedback validation, trending (pure code)."""

import io
import json

import pytest
from PIL import Image

from interarec.v1 import optimization_pb2, recommendations_pb2
from services.common import config
from services.core import business_rules
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrLine
from services.storefront_api import feedback
from services.storefront_api.assortments import InvalidRequest, solve
from services.storefront_api.image_query import dominant_colour, image_request
from services.storefront_api.latest import LatestRecommendations
from services.storefront_api.queries import parse_price, similar_request, text_request
from services.storefront_api.trending import BUCKET_MS, Trending
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240)


def rules(doc) -> dict:
    return business_rules.parse_rules(doc)


def test_rules_parse_with_clear_errors(tmp_path, monkeypatch):
    parsed = rules({"acme": [{"name": "no-acme", "exclude_brands": ["Acme"]}, {"name": "cap", "max_per_brand": 2},
                             {"name": "boost", "boost_products": {"P00001": 0.5}}]})
    assert [r.kind for r in parsed["acme"]] == ["exclude_brands", "max_per_brand", "boost_products"]
    for bad, match in (({"acme": [{"name": "x"}]}, "exactly one"),
                       ({"acme": [{"name": "x", "max_per_brand": 0}]}, "positive integer"),
                       ({"acme": [{"name": "x", "boost_products": {"P1": 2}}]}, r"\(0, 1\]"),
                       ({"acme": [{"name": "x", "exclude_brands": []}]}, "non-empty list"),
                       ({"Bad Tenant": []}, "tenant"),
                       ({"acme": [{"name": "x", "pin_products": ["P1"]}, {"name": "x", "pin_products": ["P2"]}]},
                        "same name")):
        with pytest.raises(config.ConfigError, match=match):
            rules(bad)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"acme": [{"name": "pin", "pin_products": ["P00002"]}]}))
    # read through the one declaration both services' settings use
    from services.common.settings import from_env
    from services.optimizer.settings import OptimizerSettings
    from services.storefront_api.app import StorefrontSettings

    monkeypatch.setenv("INTERAREC_BUSINESS_RULES_FILE", str(path))
    monkeypatch.setenv("INTERAREC_DEMO_MODE", "1")
    assert from_env(OptimizerSettings).rules["acme"][0].products == ("P00002",)
    assert StorefrontSettings.from_env().rules == from_env(OptimizerSettings).rules
    path.write_text("{not json")
    for cls in (OptimizerSettings, StorefrontSettings):
        with pytest.raises(config.ConfigError, match="INTERAREC_BUSINESS_RULES_FILE"):
            from_env(cls)


def test_rules_naming_unknown_products_or_brands_refuse_to_start():
    business_rules.check_against_catalog(rules({"acme": [{"name": "ok", "exclude_brands": ["Acme"]}]}), CATALOG)
    for bad in ({"name": "typo", "exclude_brands": ["Acmee"]}, {"name": "gone", "pin_products": ["P99999"]},
                {"name": "gone", "boost_products": {"P99999": 0.5}}):
        with pytest.raises(config.ConfigError, match="catalog does not have"):
            business_rules.check_against_catalog(rules({"acme": [bad]}), CATALOG)


def test_rules_merge_into_constraints_once_and_only_for_their_tenant():
    by_tenant = rules({"acme": [
        {"name": "drop", "exclude_products": ["P00003"]}, {"name": "no-brand", "exclude_brands": ["Borealis"]},
        {"name": "pin", "pin_products": ["P00007"]}, {"name": "boost", "boost_products": {"P00009": 0.7}},
        {"name": "cap3", "max_per_brand": 3}, {"name": "cap2", "max_per_brand": 2}]})
    req = optimization_pb2.OptimizationRequest(tenant="acme", k=8)
    req.constraints.exclude_product_ids.append("P00001")
    business_rules.apply_for_tenant(req, by_tenant)
    business_rules.apply_for_tenant(req, by_tenant)  # redelivered: merged once
    c = req.constraints
    assert list(c.exclude_product_ids) == ["P00001", "P00003"] and list(c.exclude_brands) == ["Borealis"]
    assert list(c.include_product_ids) == ["P00007"] and c.max_per_brand == 2
    assert [(t.value, round(t.weight, 2)) for t in req.preferences.boost_product_ids] == [("P00009", 0.7)]
    assert list(req.applied_rules) == ["drop", "no-brand", "pin", "boost", "cap3", "cap2"]
    other = business_rules.apply_for_tenant(optimization_pb2.OptimizationRequest(tenant="globex"), by_tenant)
    assert not other.applied_rules and not other.constraints.exclude_product_ids


def test_only_rules_that_changed_the_answer_are_named():
    # solve() stands in for the optimizer: it offers the three cheapest non-excluded ids of P00001..P00006
    def solve_ids(req):
        return [p for p in ("P00001", "P00002", "P00003", "P00004", "P00005", "P00006")
                if p not in req.constraints.exclude_product_ids][:3]

    by_tenant = rules({"acme": [{"name": "drop-2", "exclude_products": ["P00002"]},
                                {"name": "drop-6", "exclude_products": ["P00006"]}]})
    req = business_rules.apply_for_tenant(optimization_pb2.OptimizationRequest(tenant="acme"), by_tenant)
    assert business_rules.rules_that_changed(req, by_tenant["acme"], solve_ids) == ["drop-2"]


def test_rules_go_through_the_real_optimizer_and_are_explained():
    product = CATALOG.by_id["P00001"]
    base = solve(CATALOG, similar_request(CATALOG, product, 4, "acme"))
    top = base.items[0].product_id
    by_tenant = rules({"acme": [{"name": "hide-top", "exclude_products": [top]},
                                {"name": "hide-unseen", "exclude_products": ["P00239"]}]})
    rec = solve(CATALOG, similar_request(CATALOG, product, 4, "acme"), by_tenant["acme"])
    assert top not in [i.product_id for i in rec.items]
    assert list(rec.request.applied_rules) == ["hide-top", "hide-unseen"] or "P00239" in [i.product_id for i in
                                                                                          base.items]
    assert "rule: hide-top" in rec.shaping_constraints
    assert ("rule: hide-unseen" in rec.shaping_constraints) == ("P00239" in [i.product_id for i in base.items])


def test_similar_products_share_the_type_and_carry_reasons():
    product = CATALOG.products[10]
    rec = solve(CATALOG, similar_request(CATALOG, product, 5, "acme"))
    assert 1 <= len(rec.items) <= 5 and product.product_id not in [i.product_id for i in rec.items]
    assert {i.category for i in rec.items} == {product.category}
    assert all(product.price / 2 <= i.price <= product.price * 2 for i in rec.items)
    for item in rec.items:
        reason = item.reason
        assert f"type {product.category}" in reason.matched_preferences
        assert reason.expected_revenue_contribution == pytest.approx(item.price * item.choice_probability)
        assert f"{item.choice_probability:.1%}" in reason.text
    assert sum(i.reason.expected_revenue_contribution for i in rec.items) == pytest.approx(rec.expected_revenue)


def test_text_query_is_grounded_into_constraints():
    assert parse_price("black shoes under $120") == (None, 120.0)
    assert parse_price("between $50 and 20") == (20.0, 50.0)
    assert parse_price("over 300 dollars") == (300.0, None)
    assert parse_price("$40-$90 lamps") == (40.0, 90.0)
    req, ignored = text_request(CATALOG, "Acme headphones in black under $200 please", 1, "acme")
    c = req.constraints
    assert list(c.brands) == ["Acme"] and list(c.categories) == ["Headphones"] and list(c.colours) == ["black"]
    assert c.price_max == 200 and not c.HasField("price_min") and ignored == ["please"]
    rec = solve(CATALOG, req)  # the catalog has exactly one: Acme Headphone 1, black, $136.19
    assert [i.product_id for i in rec.items] == ["P00001"] and not rec.request.relaxations
    # an impossible combination is relaxed with a recorded reason, not answered with nothing
    req, _ = text_request(CATALOG, "Acme gold laptops under $5", 8, "acme")
    rec = solve(CATALOG, req)
    assert len(rec.items) > 0 and rec.request.relaxations


def test_unsatisfiable_request_is_an_error_not_an_empty_answer():
    req = optimization_pb2.OptimizationRequest(tenant="acme", session_id="x", k=8)
    req.constraints.exclude_product_ids.extend(p.product_id for p in CATALOG.products[:236])
    with pytest.raises(InvalidRequest, match="candidates"):
        solve(CATALOG, req)


def _png(colour, size=(200, 200), background=(250, 250, 250)) -> bytes:
    image = Image.new("RGB", size, background)
    image.paste(colour, (50, 50, 150, 150))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_image_colour_is_matched_to_the_catalog_palette():
    image = Image.open(io.BytesIO(_png((190, 35, 40))))
    assert dominant_colour(image, CATALOG.colours) == "red"
    assert dominant_colour(Image.new("RGB", (50, 50), (20, 40, 200)), CATALOG.colours) == "blue"
    match = image_request(Grounder(CATALOG), Image.open(io.BytesIO(_png((40, 160, 60)))), 6, "acme")
    assert match.colour == "green" and list(match.request.constraints.colours) == ["green"]
    rec = solve(CATALOG, match.request)
    assert rec.items and {i.colour for i in rec.items} == {"green"}


def _rec(seq, *pids):
    rec = recommendations_pb2.Recommendation(session_id="s", tenant="acme", window_seq=seq)
    for pid in pids:
        rec.items.add(product_id=pid)
    return rec


def _shown(*recs):
    store = LatestRecommendations(history_size=2)
    for rec in recs:
        store.offer(rec)
    return store.shown("acme", "s")


def test_feedback_is_checked_against_catalog_and_recommendations():
    shown = _shown(_rec(3, "P00001", "P00002"), _rec(4, "P00005"))
    ok = [("P00001", "click", 3), ("P00005", "impression", 0), ("P00100", "purchase", 4),
          ("P00100", "add_to_cart", 0)]
    for pid, event, seq in ok:
        assert feedback.problem(CATALOG, shown, pid, event, seq) is None, (pid, event, seq)
    bad = [("P99999", "purchase", 0, "not in the catalog"), ("P00005", "click", 3, "not in window 3"),
           ("P00100", "impression", 0, "not in this session's recommendations"),
           ("P00001", "click", 9, "window 9 is not a recommendation"), ("P00001", "like", 0, "event must be"),
           # a window older than anything the session was shown is not a free pass (it was, before)
           ("P00100", "click", 1, "window 1 is not a recommendation")]
    for pid, event, seq, message in bad:
        assert message in feedback.problem(CATALOG, shown, pid, event, seq)


def test_feedback_is_checked_against_windows_older_than_the_kept_history():
    """The history keeps 2 windows; what windows 1-5 showed is remembered all the same, so a click in an old
    window is checked against that window, not waved through as 'too old to check'."""
    shown = _shown(*(_rec(seq, f"P0000{seq}") for seq in range(1, 6)))
    assert feedback.problem(CATALOG, shown, "P00001", "click", 1) is None
    assert "not in window 1" in feedback.problem(CATALOG, shown, "P00003", "click", 1)
    assert "not in this session" in feedback.problem(CATALOG, shown, "P00100", "click", 0)
    assert feedback.problem(CATALOG, shown, "P00002", "impression", 0) is None


def test_trending_counts_views_once_per_session_and_slides():
    t = Trending()
    now = 10 * 3600 * 1000
    for session in ("a", "b", "c", "d"):
        t.view("acme", session, "P00001", "Laptops", now - 1000, now)
        t.view("acme", session, "P00001", "Laptops", now - 900, now)  # same session again: not a new view
    t.view("acme", "a", "P00002", "Headphones", now - 2 * 3600 * 1000, now)  # two hours ago
    t.click("acme", "P00002", "Headphones", now - 500, now)
    t.view("globex", "z", "P00003", "Laptops", now, now)
    products, categories = t.top("acme", 3600, now, 10)
    assert [(r["product_id"], r["views"], r["clicks"]) for r in products] == [("P00001", 4, 0), ("P00002", 0, 1)]
    assert [r["category"] for r in categories] == ["Laptops", "Headphones"]
    products, _ = t.top("acme", 86_400, now, 10)
    assert {r["product_id"]: r["views"] for r in products} == {"P00001": 4, "P00002": 1}
    assert [r["product_id"] for r in t.top("globex", 3600, now, 10)[0]] == ["P00003"]
    later = now + 25 * 3600 * 1000  # past the horizon: old buckets expire on the next write
    t.view("acme", "x", "P00004", "Laptops", later, later)
    assert [r["product_id"] for r in t.top("acme", 86_400, later, 10)[0]] == ["P00004"]
    t.view("acme", "e", "P00005", "Laptops", later + 2 * BUCKET_MS, later)  # from the future: ignored
    assert len(t.top("acme", 86_400, later, 10)[0]) == 1


def test_optimizer_explanation_names_only_rules_that_changed_its_answer():
    # what the optimizer agent calls after merging the tenant's rules into a pipeline request
    request = similar_request(CATALOG, CATALOG.products[3], 4, "acme")
    base = solve(CATALOG, similar_request(CATALOG, CATALOG.products[3], 4, "acme"))
    shown, unseen = base.items[0].product_id, next(
        p.product_id for p in CATALOG.products if p.category != CATALOG.products[3].category)
    by_tenant = rules({"acme": [{"name": "hide-shown", "exclude_products": [shown]},
                                {"name": "hide-other-type", "exclude_products": [unseen]}]})
    business_rules.apply_for_tenant(request, by_tenant)
    assert business_rules.explain(CATALOG, request, by_tenant["acme"]) == ["hide-shown"]
    assert business_rules.explain(CATALOG, request, ()) == []  # no rules for the tenant: nothing to name


def test_an_image_query_neither_learns_nor_uses_another_images_panel():
    """The storefront's one Grounder serves every image query: a screenshot showing a recommendation panel
    must not make the next query's product title (at the same place) count as panel and be ignored."""
    grounder, title = Grounder(CATALOG), CATALOG.products[0].title
    screenshot = [OcrLine("Recommended for you", 90, 20, 900, 100, 220), OcrLine(title, 90, 20, 920, 140, 300)]
    photo = [OcrLine(title, 90, 20, 920, 140, 300)]
    assert grounder.split_panel(screenshot, session=None)[1]  # the panel is seen in that image...
    assert grounder.split_panel(photo, session=None) == (photo, [])  # ...and not carried to the next
    grounder.split_panel(screenshot, session="s")
    assert grounder.split_panel(photo, session="s") == ([], photo)  # a session's frames do carry it
