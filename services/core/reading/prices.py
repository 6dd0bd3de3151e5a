"""Money amounts as shops print them: the currency before or after the number, as a symbol or a code, with a
decimal point or a decimal comma, thousands grouped by commas, dots or (narrow) spaces.

    $83.00 · $ 83 · US$83.00 · $83.00 USD · USD 83.00 · 83,00 $ · 1 234,50 € · EUR 1.234,50 · £1,234.50

The reader must work on shops whose look we did not choose, so every format is read by one rule rather
than one per shop. A number without a currency next to it is never a price (weights, sizes, counts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_CURRENCY = r"(?:US\s?\$|\$|USD|EUR|GBP|CAD|AUD|€|£)"
# grouped thousands (1,234 / 1.234 / 1 234), one separator throughout and never the decimal mark, or a plain
# whole part, then optional 2-digit cents. Mixed separators are two numbers: a struck-through "263,99 $" whose
# struck "$" reads as a digit, then the paid "223,99 $", made "263,994 223,99" one amount of 263 million. Nor do
# space-grouped thousands start glued by a dash to a number: the same struck "$" read as "-4" made "263,99-4 223,99"
# an amount of 4,223.99
_AMOUNT = (r"(\d{1,3}(?:,\d{3})+(?:\.\d{2})?|\d{1,3}(?:\.\d{3})+(?:,\d{2})?"
           r"|(?<!\d-)\d{1,3}(?:[\u202f\u00a0 ]\d{3})+(?:[.,]\d{2})?|\d{1,6}(?:[.,]\d{2})?)")
# a number followed by a percent sign is a percentage ("-15%"), however a currency before it reads
_BEFORE_RE = re.compile(rf"(?<![\w.,]){_CURRENCY}\s?{_AMOUNT}(?![\d])(?!\s?%)", re.IGNORECASE)  # $83.00, USD 83.00
_AFTER_RE = re.compile(rf"(?<![\w.,$]){_AMOUNT}\s?{_CURRENCY}(?![A-Za-z])", re.IGNORECASE)  # 83,00 $, 83.00 USD
MONEY_RE = re.compile(f"{_BEFORE_RE.pattern}|{_AFTER_RE.pattern}", re.IGNORECASE)


def amount(raw: str) -> float:
    """'1.234,50' -> 1234.5, '83,00' -> 83.0, '1,234' -> 1234.0: a separator followed by exactly two final
    digits is the decimal mark; every other separator groups thousands."""
    digits = re.sub(r"[\s\u202f\u00a0]", "", raw)
    m = re.fullmatch(r"(.*?)[.,](\d{2})", digits)
    whole, cents = (m.group(1), m.group(2)) if m else (digits, "0")
    return float(re.sub(r"[.,]", "", whole) or "0") + int(cents) / 100


def find(text: str) -> Iterator[tuple[int, int, float]]:
    """(start, end, value) of every money amount in text, left to right. A line is read in the one style
    that explains more of its amounts ("89,99 $ 66,99 $" puts the currency after; "$504.99 $404.00" before;
    a tie goes to the currency first, so "$83.00 USD" is one amount). An amount of the other style that shares
    no character with those is an amount too: a struck-through "81,99 $" garbled into "$1,99-¢" must not make
    the paid "65,50 $" before it, the line's one clean amount, disappear."""
    before, after = list(_BEFORE_RE.finditer(text)), list(_AFTER_RE.finditer(text))
    chosen, other = (after, before) if len(after) > len(before) else (before, after)
    found = [*chosen, *(m for m in other if all(m.end() <= c.start() or m.start() >= c.end() for c in chosen))]
    for m in sorted(found, key=lambda m: m.start()):
        yield m.start(), m.end(), amount(m.group(1))


def values(text: str) -> list[float]:
    return [v for _, _, v in find(text)]


def without(text: str) -> str:
    """text without its money amounts (a card title followed by its price)."""
    return MONEY_RE.sub("", text)
