"""Filter chips read off a shop's listing ("Brand: Norda", "Colour: Black", "Price: $50 – $120",
"Price: from $50", "Price: up to $120") -> structured `UiFilter`s. The only place chip wording is parsed:
summaries carry the structured fields, so no consumer parses shop text again."""

from __future__ import annotations

import re

from interarec.v1 import summaries_pb2

UiFilter = summaries_pb2.UiFilter
_PRICE = re.compile(
    r"^Price\s*:\s*(?:\$?([\d,.]+)\s*[-–—]\s*\$?([\d,.]+)|from\s*\$?([\d,.]+)|up\s+to\s*\$?([\d,.]+))\s*$",
    re.IGNORECASE)
_TERM = re.compile(r"^(Brand|Colou?r|Category)\s*:\s*(.+?)\s*$", re.IGNORECASE)
_FIELDS = {"brand": UiFilter.FIELD_BRAND, "colour": UiFilter.FIELD_COLOUR, "color": UiFilter.FIELD_COLOUR,
           "category": UiFilter.FIELD_CATEGORY}


def _money(raw: str) -> float:
    return float(raw.replace(",", ""))


def parse_chip(text: str) -> summaries_pb2.UiFilter | None:
    """One chip as a UiFilter, or None for a chip that is not a brand, colour, category or price filter."""
    text = text.strip()
    if m := _PRICE.match(text):
        lo, hi, frm, upto = m.groups()
        try:
            f = UiFilter(field=UiFilter.FIELD_PRICE)
            if lo:
                f.price_low, f.price_high = sorted((_money(lo), _money(hi)))
            elif frm:
                f.price_low = _money(frm)
            else:
                f.price_high = _money(upto)
        except ValueError:
            return None
        return f
    if m := _TERM.match(text):
        return UiFilter(field=_FIELDS[m.group(1).casefold()], value=m.group(2))
    return None


def parse_chips(texts: list[str]) -> list[summaries_pb2.UiFilter]:
    return [f for f in map(parse_chip, texts) if f is not None]
