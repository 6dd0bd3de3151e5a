"""Catalog words are matched by one vocabulary (common/vocabulary.py) whichever reader met them (issue 16): the
OCR grounder and the model backend agree on spellings, plurals and near misses; only the tolerance differs
(pixels misread more letters than a model misspells)."""

from __future__ import annotations

from services.common.catalog import Catalog, Product
from services.common.vocabulary import Vocabulary
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrLine

CATALOG = Catalog([Product(product_id=i, title=t, brand=b, category=c, colour=col, price=p, margin=0.3,
                           rating=4.0, review_count=10, description="", specs="Material: Mesh", image=f"{i}.png")
                   for i, t, b, c, col, p in (
                       ("P01234", "Norda Summit Sneakers K47", "Norda", "Footwear", "Grey", 129.0),
                       ("P04410", "Velmont Harbor Boots T34", "Velmont", "Footwear", "Black", 199.0),
                       ("P05120", "Caldera Ridge Backpack R2", "Caldera", "Backpacks", "Grey", 89.0))])


def line(text: str, top: int, height: float = 14, left: int = 400) -> OcrLine:
    return OcrLine(text=text, conf=90, height=height, left=left, top=top, width=len(text) * 9)


def test_the_grounder_reads_chips_and_breadcrumbs_with_the_shared_vocabulary() -> None:
    # Before, the grounder kept its own lower-case tables: "Color: Gray" (US spelling) and a singular
    # breadcrumb were unknown to it while the model backend's vocabulary knew both.
    listing = Grounder(CATALOG).observe([line("Home / Backpack", 120), line("Backpacks", 150, 20),
                                         line("Brand: Caldera | Color: Gray", 200),
                                         line("Caldera Ridge Backpack R2", 300)])
    assert listing.category == "Backpacks"
    assert listing.filter_labels == ["Brand: Caldera", "Colour: Grey"]
    model = Vocabulary(CATALOG.colours)
    assert model("Gray") == "Grey" and Vocabulary(CATALOG.categories)("backpack") == "Backpacks"


def test_words_in_running_text_need_an_exact_match_and_ocr_near_misses_need_a_close_one() -> None:
    brands = Vocabulary(CATALOG.brands, min_score=85)
    assert brands.exact("norda") == "Norda" and brands.exact("nord") is None  # running text: other words
    assert brands("Nordaa") == "Norda"  # one misread letter in a labelled field
    assert brands("Nomad") is None
