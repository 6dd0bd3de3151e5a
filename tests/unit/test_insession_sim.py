"""The in-session simulator's pieces (infra/bench/insession_sim.py): a persona's plan as page visits, the
perfect reads of each page, frames, and one session through the real pipeline scored by the eval's metric."""

from __future__ import annotations

import random

from infra.bench import insession_sim as sim
from services.shoppers.personas import load, resolve
from tests.unit.catalog_factory import demo_catalog

CATALOG = demo_catalog()


def _persona(persona_id: str, offset: int = 100000):
    raw = next(r for r in load() if r["id"] == persona_id)
    return resolve({**raw, "seed": raw["seed"] + offset}, CATALOG)


def test_a_filtered_listing_reads_its_category_chips_and_sort_order():
    o = sim.listing_observation("Footwear", {"brand": "Norda", "price_max": 90.0, "sort": "rating"}, ["P1"])
    assert o.kind == "listing" and o.category == "Footwear" and o.sort_order == "rating_desc"
    assert [c["field"] for c in o.filters] == ["brand", "price"] and o.filters[1]["high"] == 90.0
    assert sim.listing_observation("Footwear", {}, []).sort_order == "relevance"  # the shop's default order


def test_every_product_the_plan_opens_is_a_product_page_visit_in_order():
    persona = _persona("watches-band-compare")
    visits = sim.visits(persona, CATALOG, random.Random(1))
    opened = [v.observation.product_id for v in visits if v.observation.kind == "product"]
    assert opened == persona.viewed
    assert all(a.end_s == b.start_s and a.start_s <= a.end_s for a, b in zip(visits, visits[1:], strict=False))
    assert any(v.observation.compared_product_ids for v in visits)  # the compare step is a page of its own


def test_a_visits_first_frames_are_read_and_the_rest_repeat_them():
    persona = _persona("short-brand")
    stream = sim.frames(sim.visits(persona, CATALOG, random.Random(2)), random.Random(3))
    by_url: dict[str, list] = {}
    for f, _, obs in stream:
        by_url.setdefault(f["url"], []).append(obs)
    first = next(reads for url, reads in by_url.items() if url.startswith("/p/"))
    assert first[0] is not None and first[0].product_id
    assert all(o is None for o in first[sim.READS_PER_VISIT:])


def test_a_session_through_the_pipeline_is_scored_by_the_eval_metric():
    persona = _persona("brand-loyal")
    replay = sim.run_session(persona, CATALOG, random.Random(4))
    assert replay.windows and all(w.items for w in replay.windows if w.viewed)
    m = sim.measure(replay, persona, CATALOG)
    assert m is not None and 0.0 <= m.share <= 1.0 and not m.switched
