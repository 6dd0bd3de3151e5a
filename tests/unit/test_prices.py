"""Money amounts in every format a shop prints (services/core/reading/prices.py)."""

from __future__ import annotations

import pytest

from services.core.reading import prices


@pytest.mark.parametrize(("text", "expected"), [
    ("$83.00", [83.0]),
    ("$ 83", [83.0]),
    ("$83.00 USD", [83.0]),
    ("USD 83.00", [83.0]),
    ("83,00 $", [83.0]),
    ("1\u202f234,50 $", [1234.5]),
    ("1 234,50 €", [1234.5]),
    ("EUR 1.234,50", [1234.5]),
    ("$1,234.50", [1234.5]),
    ("$1,234", [1234.0]),
    ("US$49.99", [49.99]),
    ("£12.50 and €8", [12.5, 8.0]),
    ("Regular price 89,99 $ Sale price 66,99 $", [89.99, 66.99]),
    ("3504.99 $404.00", [404.0]),
    ("89,99 $ 66,99 $", [89.99, 66.99]),
])
def test_every_format_reads_the_same_amount(text: str, expected: list[float]) -> None:
    assert prices.values(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["Weight 830 g", "46 mm", "4.5 out of 5 stars (1,234)", "Bluetooth 5.3",
                                  "Capacity 24 L", "SKU: P12345"])
def test_numbers_without_a_currency_are_not_prices(text: str) -> None:
    assert prices.values(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    # a struck-through "263,99 $" whose struck "$" reads as a digit, before the paid price (theme-92 product-08):
    # "263,994 223,99" is no number (a comma cannot group thousands and mark the cents in one number)
    ("263,994 223,99 $ (15%", [223.99]),
    # ... or as "-4" (the same page read as a first frame): "4 223,99" is no space-grouped number
    ("263,99-4 223,99 $ 5%", [223.99]),
    ("4 223,99 $", [4223.99]),
    ("10-20 $", [20.0]),
    ("$1,234 567.00", [1234.0]),
    ("1.234 567,00 €", [567.0]),
    ("1.234.567,00 €", [1234567.0]),
    ("$1,234,567.00", [1234567.0]),
])
def test_a_number_groups_its_thousands_with_one_separator_unlike_its_decimal_mark(text: str,
                                                                                 expected: list[float]) -> None:
    assert prices.values(text) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "expected"), [
    # "-15%" after the paid "223,99 $" read as "5%": the "$" went with the "5", and that reading, currency first,
    # explained as many amounts as the right one, so the paid price was lost (theme-92 product-08, first frame)
    ("223,99 $ 5%", [223.99]),
    ("$83.00 USD -15%", [83.0]),
    ("USD 20 % off", []),
])
def test_a_number_followed_by_a_percent_sign_is_never_an_amount(text: str, expected: list[float]) -> None:
    assert prices.values(text) == pytest.approx(expected)


def test_without_leaves_the_title() -> None:
    assert prices.without("Norda Summit Boots K47 USD 83.00").strip() == "Norda Summit Boots K47"


@pytest.mark.parametrize(("text", "expected"), [
    # the struck "81,99 $" read as "$1,99-¢" after the paid "65,50 $": one amount in each style, a tie read
    # currency-first, and the paid price was lost (theme-120 product-02)
    ("65,50 $ List: $1,99-¢", [65.5, 1.99]),
    # overlapping readings stay one amount in the style that explains more
    ("$83.00 USD 64.00 USD", [83.0, 64.0]),
    ("89,99 $ 66,99 $", [89.99, 66.99]),
])
def test_an_amount_in_the_other_style_sharing_no_character_is_kept(text: str, expected: list[float]) -> None:
    assert prices.values(text) == pytest.approx(expected)
