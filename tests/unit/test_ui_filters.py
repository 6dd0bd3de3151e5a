"""UI filters travel as structured fields (summaries.proto UiFilter): chip wording is parsed once, where the
screen is read, and the decomposer reads only the fields."""

from __future__ import annotations

from interarec.v1 import summaries_pb2
from services.core.decompose.rules import decompose
from services.core.reading.filters import parse_chip
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240)
F = summaries_pb2.UiFilter


def test_chips_become_structured_filters():
    def fields(text):
        f = parse_chip(text)
        return None if f is None else (f.field, f.value, f.price_low if f.HasField("price_low") else None,
                                       f.price_high if f.HasField("price_high") else None)

    assert fields("Brand: Norda") == (F.FIELD_BRAND, "Norda", None, None)
    assert fields("color: Black ") == (F.FIELD_COLOUR, "Black", None, None)
    assert fields("Category: Monitors") == (F.FIELD_CATEGORY, "Monitors", None, None)
    assert fields("Price: $1,200.00 – $50") == (F.FIELD_PRICE, "", 50.0, 1200.0)
    assert fields("Price: from $50") == (F.FIELD_PRICE, "", 50.0, None)
    assert fields("Price: up to $120") == (F.FIELD_PRICE, "", None, 120.0)
    assert fields("Sort: Price: low to high") is None and fields("Price: cheap") is None


def test_the_decomposer_reads_the_structured_fields_not_the_display_strings():
    brand, category = CATALOG.products[0].brand, CATALOG.products[0].category
    s = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=1)
    s.ui_filter_fields.add(field=F.FIELD_BRAND, value=brand)
    s.ui_filter_fields.add(field=F.FIELD_PRICE, price_high=150.0)
    s.ui_filters_category = category
    c = decompose(s, CATALOG).constraints
    assert list(c.brands) == [brand] and c.price_max == 150.0 and not c.HasField("price_min")
    # display strings alone (a shop's wording) constrain nothing: no consumer parses them
    words = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=1)
    words.ui_filters.extend([f"Brand: {brand}", "Price: up to $150"])
    c = decompose(words, CATALOG).constraints
    assert not c.brands and not c.HasField("price_max")
