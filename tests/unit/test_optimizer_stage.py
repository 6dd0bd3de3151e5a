"""The optimizer's registered handlers (services/optimizer/agents.py) through the in-memory stage driver, and
its entry point: settings declared once, `build(settings)` does the work, importing does none."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from interarec.v1 import feedback_pb2, optimization_pb2, recommendations_pb2
from services.common.topics import FEEDBACK, OPT_REQUESTS, RECOMMENDATIONS
from services.common.worker import LastWindows
from services.core import business_rules
from services.optimizer import agents
from services.optimizer.feedback import Counts
from services.optimizer.settings import OptimizerSettings
from tests.stage_driver import StageDriver, build_offline, run_worker_offline
from tests.unit.catalog_factory import make_catalog

ROOT = Path(__file__).resolve().parents[2]
CATALOG = make_catalog(240)


@pytest.fixture
def pool():
    with ThreadPoolExecutor(1) as executor:
        yield executor


def stage(driver: StageDriver, pool, rules=None, **settings) -> agents.OptimizerStage:
    s = OptimizerSettings(**settings)
    st = agents.OptimizerStage(s, CATALOG, rules or {}, LastWindows.over({}, OPT_REQUESTS.name),
                               RECOMMENDATIONS.name, defaultdict(str), pool, driver.send)
    st.synced.set()  # no changelog to restore in a unit test
    return st


def request(seq: int = 1, **fields) -> optimization_pb2.OptimizationRequest:
    req = optimization_pb2.OptimizationRequest(session_id="s-1", tenant="acme", window_seq=seq, k=4, **fields)
    req.constraints.categories.append(CATALOG.products[0].category)
    return req


def test_a_request_becomes_one_explained_recommendation_and_a_redelivery_none(pool):
    driver = StageDriver()
    st = stage(driver, pool)
    out = driver.pipe(st.handle, OPT_REQUESTS.name, b"acme/s-1", request().SerializeToString())
    assert [(o.topic, o.key) for o in out] == [(RECOMMENDATIONS.name, b"acme/s-1")]
    rec = recommendations_pb2.Recommendation.FromString(out[0].value)
    assert len(rec.items) == 4 and rec.solve_status == "optimal" and rec.window_seq == 1
    assert all(i.category == CATALOG.products[0].category and i.reason.text for i in rec.items)
    assert [s.stage for s in rec.trace.stages] == ["optimizer"]
    top = rec.items[0].product_id
    assert driver.pipe(st.handle, OPT_REQUESTS.name, b"acme/s-1", request().SerializeToString()) == []
    # the tenant's business rules are merged and named once, in the one format
    rules = business_rules.parse_rules({"acme": [{"name": "hide-top", "exclude_products": [top]}]})
    st = stage(driver, pool, rules)
    out = driver.pipe(st.handle, OPT_REQUESTS.name, b"acme/s-1", request(2).SerializeToString())
    rec = recommendations_pb2.Recommendation.FromString(out[0].value)
    assert top not in [i.product_id for i in rec.items] and list(rec.request.applied_rules) == ["hide-top"]
    assert [n for n in rec.shaping_constraints if "hide-top" in n] == ["rule: hide-top"]


def test_the_solver_setting_reaches_the_solve(pool):
    driver = StageDriver()
    st = stage(driver, pool, solver="highs")
    out = driver.pipe(st.handle, OPT_REQUESTS.name, b"acme/s-1", request().SerializeToString())
    rec = recommendations_pb2.Recommendation.FromString(out[0].value)
    assert rec.solver.startswith("highs") and rec.solve_status == "optimal" and len(rec.items) == 4


def test_feedback_is_counted_once_per_offset_and_unknown_products_are_refused(pool):
    driver = StageDriver()
    st = stage(driver, pool)
    driver.pipe(st.handle, OPT_REQUESTS.name, b"acme/s-1", request().SerializeToString())
    rec = recommendations_pb2.Recommendation.FromString(driver.output(RECOMMENDATIONS.name)[0].value)
    click = feedback_pb2.Feedback(session_id="s-1", tenant="acme", window_seq=1, product_id=rec.items[0].product_id,
                                  event=feedback_pb2.FEEDBACK_EVENT_CLICK)
    driver.pipe(st.handle_feedback, FEEDBACK.name, b"acme/s-1", click.SerializeToString())
    (key, value), = st.feedback_counts.items()
    assert key.startswith(f"acme/{rec.items[0].product_id}@") and Counts.from_json(value).offset == 0
    assert st.fold.clicks == 1
    unknown = feedback_pb2.Feedback(session_id="s-1", tenant="acme", product_id="P99999",
                                    event=feedback_pb2.FEEDBACK_EVENT_CLICK)
    with pytest.raises(ValueError, match="unknown product"):
        driver.pipe(st.handle_feedback, FEEDBACK.name, b"acme/s-1", unknown.SerializeToString())


def test_importing_the_worker_does_nothing_and_a_bad_setting_is_one_line():
    run = run_worker_offline("optimizer", INTERAREC_OPTIMIZER_TIME_LIMIT_MS="0")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("optimizer: configuration error: INTERAREC_OPTIMIZER_TIME_LIMIT_MS=0 is outside "
                                  "the allowed range [1, 600000]")


def test_build_wires_the_agents_without_a_broker(tmp_path, monkeypatch):
    from services.optimizer.app import build

    app = build_offline(build, OptimizerSettings, tmp_path, monkeypatch)
    assert sorted(a.name for a in app.agents.values()) == ["services.optimizer.agents.learn_from_feedback",
                                                          "services.optimizer.agents.optimize_requests"]
    assert {"optimizer-last-window", "optimizer-feedback"} <= set(app.tables)


def test_item_images_use_the_image_base_setting(pool, monkeypatch):
    # Before: the builder always prefixed the demo shop's /images/ route; now INTERAREC_IMAGE_BASE_URL decides.
    monkeypatch.setenv("INTERAREC_IMAGE_BASE_URL", "https://cdn.shop.example/p")
    from services.common.settings import from_env
    settings = from_env(OptimizerSettings)
    assert settings.image_base_url == "https://cdn.shop.example/p/"
    driver = StageDriver()
    st = stage(driver, pool, image_base_url=settings.image_base_url)
    rec = recommendations_pb2.Recommendation.FromString(
        driver.pipe(st.handle, OPT_REQUESTS.name, b"acme/s-1", request().SerializeToString())[0].value)
    assert rec.items and all(i.image_url == f"https://cdn.shop.example/p/{CATALOG.by_id[i.product_id].image}"
                             for i in rec.items)
