"""A card's struck-through price is no price filter (issue 17 item 4, theme-2 `intent-brand-switch`).

Theme sale cards print "Regular price 249,99 $ Sale price 212,00 $"; OCR reads the struck amount's decimal comma or
the strike itself as a dash ("Regular price 249-99", "Regular price 62,99-4"), which the price-filter pattern took
for a chip ("Price: $99 – $249", "$4 – $6299") on listings where the shopper set no filter. The decomposer then
held that phantom filter as the shopper's stated budget."""

from __future__ import annotations

from services.common.catalog import Catalog, Product
from services.core.reading import filters as chips
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrLine

CATALOG = Catalog([Product(product_id="P01234", title="Norda Summit Sneakers K47", brand="Norda",
                           category="Footwear", colour="Black", price=212.0, margin=0.3, rating=4.0,
                           review_count=10, description="", specs="", image="P01234.png")])


def _read(*texts: str):
    lines = [OcrLine(text=t, conf=90, height=20, left=30, top=300 + 40 * i, width=400) for i, t in enumerate(texts)]
    return Grounder(CATALOG).observe(lines, page_url="http://shop.example/c/Footwear", session=None)


def test_a_struck_through_price_read_with_a_dash_is_not_a_price_filter() -> None:
    obs = _read("Regular price 249-99", "4 Sale price 212,00 $", "Regular price 62,99-4", "Sale price 46,99 $")
    assert obs.filters == []


def test_a_price_filter_chip_is_still_read_even_beside_a_struck_price() -> None:
    assert _read("Price: $50 – $120").filters == [chips.price(50.0, 120.0)]
    assert _read("Price: up to $120").filters == [chips.price(high=120.0)]
    # a chip after a card's struck price on the same line: the chip, not the card's amount
    assert _read("Regular price 249-99 Price: $50 - $120").filters == [chips.price(50.0, 120.0)]
