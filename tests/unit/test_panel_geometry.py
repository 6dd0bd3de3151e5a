"""Our panel's position is remembered per session: one reader serves every tenant and session, and their
shops' layouts differ (issue 16, "panel geometry per session")."""

from __future__ import annotations

import pytest

from services.common.catalog import Catalog
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrLine
from services.core.reading.panel_geometry import PanelGeometry


@pytest.fixture(scope="module")
def catalog(catalog_path) -> Catalog:
    return Catalog.load(catalog_path)


def line(text: str, top: int, height: float = 11, left: int = 40) -> OcrLine:
    return OcrLine(text=text, conf=92, height=height, left=left, top=top, width=len(text) * 8)


def product_page(p, left: int) -> list[OcrLine]:
    """A product page whose content column starts at `left` (a right-aligned layout starts far right)."""
    return [line(p.title, 140, 24, left), line(f"Brand: {p.brand}", 200, left=left),
            line(f"${p.price:,.2f}", 230, 16, left), line(f"Colour: {p.colour}", 260, left=left),
            line("Add to cart", 300, left=left)]


def test_a_tenant_whose_panel_sits_left_of_another_tenants_content_does_not_cut_that_content(catalog) -> None:
    grounder = Grounder(catalog)
    seen, other = catalog.products[3], catalog.products[40]
    # tenant A: content on the left, our panel on the right from x=700 (its heading read once, then scrolled away)
    a_page = [*product_page(seen, 40), line("Recommended for you", 150, 13, left=724),
              line(catalog.products[9].title, 190, left=724)]
    assert grounder.observe(a_page, session="acme/s1").product_id == seen.product_id
    scrolled = [*product_page(seen, 40), line(catalog.products[9].title, 20, left=724)]
    obs = grounder.observe(scrolled, session="acme/s1")
    assert obs.product_id == seen.product_id and catalog.products[9].product_id in obs.recommended_product_ids
    # tenant B: a shop whose product column starts at x=760, right of A's panel edge; its panel not yet seen
    b = grounder.observe(product_page(other, 760), session="globex/s9")
    assert b.kind == "product" and b.product_id == other.product_id and b.recommended_product_ids == []
    # and A still cuts its panel where A's panel is
    assert grounder.observe(scrolled, session="acme/s1").recommended_product_ids == [catalog.products[9].product_id]


def test_panel_geometry_is_bounded_and_forgets_the_least_recently_used_session() -> None:
    panels = PanelGeometry(max_sessions=2)
    panels.set("t/a", 700)
    panels.set("t/b", 900)
    assert panels.get("t/a") == 700  # a is now the most recently used
    panels.set("t/c", 800)
    assert len(panels) == 2 and panels.get("t/b") is None
    assert (panels.get("t/a"), panels.get("t/c")) == (700, 800)
