"""UI filters travel as structured fields (summaries.proto UiFilter): chip wording is parsed once, where the
screen is read, and the decomposer reads only the fields."""

from __future__ import annotations

from interarec.v1 import summaries_pb2
from services.core.decompose.rules import decompose
from services.core.reading import filters as chips
from services.core.reading.grounding import Observation
from services.core.reading.summary import summarize
from services.core.reading.window import ClosedWindow
from tests.unit.catalog_factory import make_catalog

CATALOG = make_catalog(240)
F = summaries_pb2.UiFilter


def test_chips_are_structured_from_the_read_to_the_summary():
    def fields(chip):
        f = chips.to_ui_filter(chip)
        return (f.field, f.value, f.price_low if f.HasField("price_low") else None,
                f.price_high if f.HasField("price_high") else None)

    assert fields(chips.term("brand", "Norda")) == (F.FIELD_BRAND, "Norda", None, None)
    assert fields(chips.term("category", "Monitors")) == (F.FIELD_CATEGORY, "Monitors", None, None)
    assert fields(chips.price(1200.0, 50.0)) == (F.FIELD_PRICE, "", 50.0, 1200.0)
    assert fields(chips.price(low=50.0)) == (F.FIELD_PRICE, "", 50.0, None)
    assert fields(chips.price(high=120.0)) == (F.FIELD_PRICE, "", None, 120.0)
    assert [chips.label(c) for c in (chips.term("colour", "Black"), chips.price(50.0, 120.0),
                                     chips.price(low=50.0), chips.price(high=120.0))] == [
        "Colour: Black", "Price: $50 – $120", "Price: from $50", "Price: up to $120"]
    # a window stored before chips were structured held display strings: they are skipped, never misread
    old = Observation.from_dict({"kind": "listing", "filters": ["Brand: Norda", chips.term("brand", "Norda")]})
    assert old.filters == [chips.term("brand", "Norda")]
    # the summary's fields come from the chips themselves; its display strings are made from them
    listing = Observation(kind="listing", category=CATALOG.products[0].category,
                          filters=[chips.term("brand", "Norda"), chips.price(high=90.0)])
    s = summarize("s", "demo", _window([listing]), [], CATALOG)
    assert [fields_of(f) for f in s.ui_filter_fields] == [(F.FIELD_BRAND, "Norda"), (F.FIELD_PRICE, "")]
    assert list(s.ui_filters) == ["Brand: Norda", "Price: up to $90"]


def fields_of(f):
    return (f.field, f.value)


def _window(observations):
    return ClosedWindow(window_seq=1, reason="read", page_url="http://shop/c/x", frame_seqs=[1], first_capture_ms=0,
                        last_capture_ms=0, opened_ms=0, closed_ms=0, observations=observations, history=[],
                        dropped_duplicates=0)


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
