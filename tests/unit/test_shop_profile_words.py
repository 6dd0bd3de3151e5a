"""Shop wording lives in the shop profile only (issue 16): the reader has no cue words of its own to fall back
on, and a shop that words its pages differently is described in its profile file, not in code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.catalog import Catalog, Product
from services.common.config import ConfigError
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrLine
from services.core.reading.profile import REQUIRED_CUES, load_profile

CATALOG = Catalog([Product(product_id=i, title=t, brand=b, category=c, colour="Black", price=p, margin=0.3,
                           rating=4.0, review_count=10, description="", specs="Material: Mesh", image=f"{i}.png")
                   for i, t, b, c, p in (("P01234", "Norda Summit Sneakers K47", "Norda", "Footwear", 129.0),
                                         ("P04410", "Velmont Harbor Boots T34", "Velmont", "Footwear", 199.0))])


def line(text: str, top: int, height: float = 14, left: int = 400) -> OcrLine:
    return OcrLine(text=text, conf=90, height=height, left=left, top=top, width=len(text) * 9)


def german(tmp_path: Path) -> Path:
    path = tmp_path / "de.json"
    path.write_text(json.dumps({
        "name": "de", "panel_cues": ["f(?:ü|u)r\\s+dich\\s+empfohlen"],
        "product_page_cues": ["\\bin\\s+den\\s+warenkorb\\b", "^\\s*artikelnr\\.?\\s*[:;]"],
        "sku_cues": ["\\bartikelnr\\.?\\s*[:;]\\s*([A-Za-z0-9]{3,16})"], "sku_label_cues": ["\\bartikelnr\\b"],
        "search_results_cues": ["\\bergebnisse\\s+f(?:ü|u)r\\s+[\"„“]?(.+?)[\"“”]?\\s*$"],
        "review_cues": ["\\bbewertungen\\b"], "review_summary_cues": ["\\(\\s*\\d+\\s+bewertungen\\s*\\)"],
        "label_cues": ["[:$€]", "\\b(?:bewertung|bewertungen|ergebnisse|empfohlen)\\b"],
        "filter_labels": {"brand": ["Marke"], "colour": ["Farbe"], "category": ["Kategorie"], "price": ["Preis"],
                          "price_from": ["ab"], "price_up_to": ["bis"]}}))
    return path


def test_a_shop_worded_differently_is_read_through_its_profile_alone(tmp_path: Path) -> None:
    # Before: the SKU, search-results and review words were regexes in grounding.py, whatever the profile said.
    grounder = Grounder(CATALOG, profile=load_profile(german(tmp_path)))
    product = grounder.observe([line("Norda Summit Sneakers K47", 219, 25), line("Artikelnr.: P01234", 260),
                                line("129,00 €", 300), line("In den Warenkorb", 340),
                                line("Bewertungen", 400), line("Für dich empfohlen", 150, 16, left=980),
                                line("Velmont Harbor Boots T34", 190, left=980)])
    assert product.kind == "product" and product.product_id == "P01234" and product.sku_text == "P01234"
    assert product.reviews_visible and product.recommended_product_ids == ["P04410"]
    search = grounder.observe([line("Ergebnisse für „Sneakers“", 150, 20), line("Norda Summit Sneakers K47", 300)])
    assert search.kind == "search" and search.search_query == "Sneakers"
    listing = grounder.observe([line("Sneakers", 150, 20), line("Marke: Norda | Farbe: Black", 200),
                                line("Preis: $50 – $150", 230), line("Preis: bis $90", 260),
                                line("Norda Summit Sneakers K47", 300)])
    assert listing.filter_labels == ["Brand: Norda", "Colour: Black", "Price: $50 – $150", "Price: up to $90"]
    # the default profile's English wording means nothing on that shop's pages, and vice versa
    assert Grounder(CATALOG).observe([line("Ergebnisse für Sneakers", 150, 20)]).search_query is None


@pytest.mark.parametrize("key", [*REQUIRED_CUES, "filter_labels"])
def test_a_profile_without_the_cues_the_reader_needs_is_refused(tmp_path: Path, key: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({key: [] if key != "filter_labels" else {}}))
    with pytest.raises(ConfigError, match=key):
        load_profile(path)


def test_filter_labels_must_name_every_field_without_capturing(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    for labels, problem in (({"brand": ["Marke"]}, "each of"),
                            ({"brand": ["(Marke)"], "colour": ["x"], "category": ["y"], "price": ["z"],
                              "price_from": ["ab"], "price_up_to": ["bis"]}, "capture")):
        path.write_text(json.dumps({"filter_labels": labels}))
        with pytest.raises(ConfigError, match=problem):
            load_profile(path)
