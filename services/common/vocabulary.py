"""Map free text a model wrote onto the catalog's own spelling (brands, colours, categories, titles).

Model output is untrusted: a value maps onto the catalog or is dropped, never passed through. Matching is
exact after normalisation (case, punctuation, plural, grey/gray), then a close fuzzy match for a misread
letter or two; anything further away is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import fuzz, process

SYNONYMS = {"gray": "grey", "grey": "gray"}
FUZZY_MIN_SCORE = 90  # of 100: one wrong letter in a short word passes (Nordaa ~ Norda), another word does not
OCR_MIN_SCORE = 85  # text read off pixels misreads more letters than a model misspells ("bome:/(Backpacks")


def norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", str(text).casefold()).strip()


def singular(key: str) -> str:
    """'shoes' -> 'shoe', 'glass' stays: enough for catalog words, which are short nouns."""
    return key[:-1] if key.endswith("s") and not key.endswith("ss") else key


class Vocabulary:
    def __init__(self, known: Iterable[str], *, fuzzy: bool = True, min_score: float = FUZZY_MIN_SCORE):
        self._exact: dict[str, str] = {}
        self._loose: dict[str, str] = {}
        for value in known:
            self._exact.setdefault(norm(value), value)
            self._loose.setdefault(singular(norm(value)), value)
        self.keys = list(self._exact)
        self.fuzzy = fuzzy
        self.min_score = min_score

    def exact(self, text: str) -> str | None:
        """Only an exact match after normalisation: for words met in running text, where near misses are
        other words."""
        return self._exact.get(norm(text)) if text else None

    def __call__(self, text: str) -> str | None:
        key = norm(text)
        if not key:
            return None
        for candidate in (key, SYNONYMS.get(key)):
            if candidate and candidate in self._exact:
                return self._exact[candidate]
        if (hit := self._loose.get(singular(key))) is not None:
            return hit
        if self.fuzzy and len(key) >= 4:
            match = process.extractOne(key, self.keys, scorer=fuzz.ratio, score_cutoff=self.min_score)
            if match is not None:
                return self._exact[match[0]]
        return None
