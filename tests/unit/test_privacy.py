"""Server-side redaction: personal data read off a frame never reaches a summary; shop text survives."""

from __future__ import annotations

import pytest

from services.common import privacy
from services.core.reading.ocr import OcrLine


@pytest.mark.parametrize("text, kind", [
    ("Contact: jane.doe@example.com", "email"),
    ("jane.doe @ example. com", "email"),  # as OCR spaces it
    ("Card 4111 1111 1111 1111 exp 12/29", "card"),
    ("4111-1111-1111-1111", "card"),
    ("5500005555555559", "card"),
    ("Call +1 (415) 555-0134 today", "phone"),
    ("phone 020 7946 0958", "phone"),
    ("+44 20 7946 0958", "phone"),
])
def test_personal_data_is_dropped_and_counted(text, kind):
    cleaned, counts = privacy.redact(text)
    assert counts[kind] >= 1
    assert "@" not in cleaned and sum(c.isdigit() for c in cleaned) <= 4  # at most the "12/29" expiry


@pytest.mark.parametrize("text", [
    "$1,299.00", "List: $2,499.99 Now $1,999.00", "SKU: P00042", "Norda Trail Runner 2 - Black",
    "4.5 out of 5 (1234 reviews)", "Free shipping on orders over $50", "Order 2026-12-06",
    "Results 1-36 of 1200", "Price: $50 - $120",
])
def test_shop_text_is_left_alone(text):
    assert privacy.redact(text) == (text, {"email": 0, "card": 0, "phone": 0})


def test_a_16_digit_run_that_fails_luhn_is_not_counted_as_a_card():
    assert not privacy.luhn_valid("4111111111111112")
    assert privacy.luhn_valid("4111111111111111")
    _, counts = privacy.redact("ref 4111 1111 1111 1112")
    assert counts["card"] == 0


def test_clean_lines_drops_emptied_lines_and_counts_the_metric():
    before = privacy.REDACTIONS.labels(kind="email")._value.get()
    lines = [OcrLine("Norda Trail Runner", 90, 20, 10, 10, 200),
             OcrLine("jane@example.com", 90, 14, 10, 40, 200),
             OcrLine("Ship to jane@example.com now", 90, 14, 10, 60, 300)]
    out = privacy.clean_lines(lines)
    assert [ln.text for ln in out] == ["Norda Trail Runner", "Ship to now"]
    assert out[1].top == 60  # position kept: the grounding uses the layout
    assert privacy.REDACTIONS.labels(kind="email")._value.get() == before + 2
