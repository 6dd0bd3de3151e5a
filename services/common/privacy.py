"""Server-side redaction, the second line behind the capture script's masking: text read from a frame (OCR
lines, a model's answer) that looks like an e-mail address, a phone number or a payment-card number
(Luhn-valid) is dropped before it can reach a summary, a log line or a model prompt, and counted.

Pure apart from the counter. Over-redaction is cheap here (a product page rarely shows a phone number the
recommender needs), a leak is not: the patterns lean towards dropping."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from prometheus_client import Counter

REDACTIONS = Counter("interarec_privacy_redactions_total",
                     "Personal data dropped from text read off frames, by kind", ["kind"])

# OCR reads "@" and "." reliably but may add spaces around them: allow a space on either side.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+ ?@ ?[A-Za-z0-9-]+(?: ?\. ?[A-Za-z0-9-]+)*\. ?[A-Za-z]{2,}")
# 13-19 digits, optionally in groups split by spaces or dashes (how cards are printed and typed).
CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# International or national phone numbers: 9-17 digits in all with the usual separators, optionally +country and
# a bracketed area code. Prices ("$1,299.00") are not phone numbers: a leading currency sign or a decimal
# point breaks the pattern, and fewer than 9 digits never matches.
PHONE = re.compile(r"(?<![\w$€£.,])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,14}(?![\w.,]?\d)")
PHONE_MIN_DIGITS = 9  # fewer is a date, a count or a postcode
PLACEHOLDER = ""  # dropped, not replaced: nothing downstream should learn that something was there


def luhn_valid(digits: str) -> bool:
    total, odd = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if odd:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        odd = not odd
    return total % 10 == 0


def redact(text: str) -> tuple[str, dict[str, int]]:
    """(text without personal data, count per kind). Cards first: a 16-digit card also matches the phone
    pattern, and a Luhn-invalid 16-digit run (an order number) is still dropped as a phone-like number."""
    counts = {"email": 0, "card": 0, "phone": 0}

    def drop(kind: str):
        def sub(match: re.Match) -> str:
            counts[kind] += 1
            return PLACEHOLDER
        return sub

    def card(match: re.Match) -> str:
        if luhn_valid(re.sub(r"\D", "", match.group())):
            counts["card"] += 1
            return PLACEHOLDER
        return match.group()

    def phone(match: re.Match) -> str:
        if sum(c.isdigit() for c in match.group()) >= PHONE_MIN_DIGITS:
            counts["phone"] += 1
            return PLACEHOLDER
        return match.group()

    text = EMAIL.sub(drop("email"), text)
    text = CARD.sub(card, text)
    text = PHONE.sub(phone, text)
    return re.sub(r"\s{2,}", " ", text).strip() if any(counts.values()) else text, counts


def clean(text: str) -> str:
    """redact() and count: what the pipeline calls."""
    cleaned, counts = redact(text)
    for kind, n in counts.items():
        if n:
            REDACTIONS.labels(kind=kind).inc(n)
    return cleaned


Line = TypeVar("Line")


def clean_lines(lines: Sequence[Line]) -> list[Line]:
    """OCR lines (dataclasses with a `text` field) with personal data dropped; lines left empty are removed."""
    out = []
    for line in lines:
        text = clean(line.text)  # type: ignore[attr-defined]
        if text == line.text:  # type: ignore[attr-defined]
            out.append(line)
        elif text:
            out.append(replace(line, text=text))  # type: ignore[type-var]
    return out
