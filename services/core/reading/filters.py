"""Filter chips as structured data, from the moment the grounder reads them (with the shop profile's wording)
to the summary's `UiFilter` fields. A chip is a plain dict (observations are stored as JSON):
`{"field": "brand" | "colour" | "category" | "price", "value": str, "low": float | None, "high": float | None}`.
Nothing parses chip text back: the display label is made from the fields, for people only."""

from __future__ import annotations

from interarec.v1 import summaries_pb2

UiFilter = summaries_pb2.UiFilter
FIELDS = {"brand": UiFilter.FIELD_BRAND, "colour": UiFilter.FIELD_COLOUR, "category": UiFilter.FIELD_CATEGORY,
          "price": UiFilter.FIELD_PRICE}
_LABELS = {"brand": "Brand", "colour": "Colour", "category": "Category"}


def term(field: str, value: str) -> dict:
    """A brand, colour or category chip, its value in the catalog's spelling."""
    if field not in _LABELS:
        raise ValueError(f"not a term filter: {field!r}")
    return {"field": field, "value": value, "low": None, "high": None}


def price(low: float | None = None, high: float | None = None) -> dict:
    """A price chip; an open end is None."""
    if low is not None and high is not None:
        low, high = sorted((low, high))
    return {"field": "price", "value": "", "low": low, "high": high}


def is_chip(item: object) -> bool:
    """Observations stored before chips were structured held strings: those are skipped, not misread."""
    return isinstance(item, dict) and item.get("field") in FIELDS


def label(chip: dict) -> str:
    """'Brand: Norda', 'Price: $50 – $120', 'Price: from $50', 'Price: up to $120' (display only)."""
    if chip["field"] != "price":
        return f"{_LABELS[chip['field']]}: {chip['value']}"
    low, high = chip["low"], chip["high"]
    if low is not None and high is not None:
        return f"Price: ${low:g} – ${high:g}"
    return f"Price: from ${low:g}" if low is not None else f"Price: up to ${high:g}"


def to_ui_filter(chip: dict) -> summaries_pb2.UiFilter:
    f = UiFilter(field=FIELDS[chip["field"]], value=chip["value"])
    if chip["low"] is not None:
        f.price_low = chip["low"]
    if chip["high"] is not None:
        f.price_high = chip["high"]
    return f
