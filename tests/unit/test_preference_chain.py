"""The reasoning chain without OCR: if the summarizer grounds exactly the products a scripted shopper
opened, the summary -> rules -> MNL assortment must honour the shopper's hidden preference."""

from __future__ import annotations

import pytest

from services.common.catalog import Catalog
from services.core.assortment.mnl import recommend
from services.core.decompose.rules import decompose
from services.core.reading.grounding import Observation
from services.core.reading.summary import summarize
from services.core.reading.window import ClosedWindow
from services.shoppers.scenarios import build_scenario


@pytest.fixture(scope="module")
def catalog(catalog_path) -> Catalog:
    return Catalog.load(catalog_path)


def window_of(product_ids: list[str]) -> ClosedWindow:
    observations = [Observation(kind="product", product_id=pid, product_confidence=0.99,
                                page_url=f"http://shop/p/{pid}", frame_seq=i) for i, pid in enumerate(product_ids)]
    return ClosedWindow(window_seq=len(product_ids), reason="page_change", page_url=observations[-1].page_url,
                        frame_seqs=list(range(len(product_ids))), first_capture_ms=0, last_capture_ms=1,
                        opened_ms=0, closed_ms=1, observations=observations, history=[], dropped_duplicates=0)


@pytest.mark.parametrize("kind", ["brand", "colour", "price"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_recommendations_honour_the_hidden_preference(catalog, kind, seed):
    scenario = build_scenario(kind, catalog, seed)
    summary = summarize("s", "demo", window_of(list(scenario.product_ids)), [], catalog)
    request = decompose(summary, catalog, k=8)
    assortment, candidates = recommend(catalog, request, solver="threshold")
    items = [catalog.products[int(candidates[i])] for i in assortment.indices]
    assert items, f"no recommendation for {scenario.preference.describe()}"
    misses = [p.title for p in items if not scenario.preference.matches(p)]
    assert not misses, (f"{scenario.preference.describe()}: {misses} do not match; constraints "
                        f"{request.constraints}, relaxations {list(request.relaxations)}")
    assert not set(scenario.product_ids) & {p.product_id for p in items}  # nothing already seen
