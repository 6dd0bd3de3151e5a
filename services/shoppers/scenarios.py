"""Scripted shopping scenarios with a hidden preference, derived deterministically from the catalog.

A scenario says what the shopper secretly wants (`Preference`), how they enter the shop (search box or
category link, with or without a filter) and which products they open, in order. The pipeline's job is
to discover the preference from screenshots alone; tests compare its recommendations with `matches`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from services.common.catalog import Catalog, Product
from services.shoppers.budget import BUDGET_TOLERANCE, within_budget

KINDS = ("brand", "colour", "price")
MIN_CANDIDATES = 10  # products of the preference in its category, so 4-5 can be opened and >= 8 remain


@dataclass(frozen=True)
class Preference:
    """The hidden taste: a category plus one of brand, colour or a narrow price band."""

    kind: str
    category: str
    brand: str | None = None
    colour: str | None = None
    price_min: float | None = None
    price_max: float | None = None

    @property
    def values(self) -> tuple:
        if self.kind == "brand":
            return (self.brand,)
        if self.kind == "colour":
            return (self.colour,)
        return (self.price_min, self.price_max)

    def wants(self, product: Product) -> bool:
        """Strictly inside the preference: what the scripted shopper opens."""
        return self._fits(product, slack=0.0)

    def matches(self, product: Product) -> bool:
        """Whether a recommended product honours the preference (a price band with BUDGET_TOLERANCE)."""
        return self._fits(product, slack=BUDGET_TOLERANCE)

    def _fits(self, product: Product, slack: float) -> bool:
        if product.category != self.category:
            return False
        if self.kind == "brand":
            return product.brand == self.brand
        if self.kind == "colour":
            return product.colour == self.colour
        return within_budget(product.price, self.price_min, self.price_max, slack)

    def describe(self) -> str:
        if self.kind == "price":
            return f"{self.category} priced ${self.price_min:,.2f}-${self.price_max:,.2f}"
        return f"{self.values[0]} {self.category}"


@dataclass(frozen=True)
class Scenario:
    kind: str
    preference: Preference
    product_ids: tuple[str, ...]  # every product opened, in visit order (preferred ones plus the noise one)
    noise_id: str | None  # the one product outside the preference, opened briefly
    entry: str  # "search" (type into the search box) or "category" (click the category link)
    search_query: str  # what is typed when entry == "search"
    apply_filter: bool  # on the category page, use the filter form for the preference

    @property
    def preferred_ids(self) -> tuple[str, ...]:
        return tuple(pid for pid in self.product_ids if pid != self.noise_id)


def _price_band(rng: random.Random, products: list[Product]) -> tuple[float, float] | None:
    """A narrow band (top/bottom <= 1.4) holding >= MIN_CANDIDATES + 2 products, with round-ish bounds."""
    prices = sorted(p.price for p in products)
    need = MIN_CANDIDATES + 2
    anchors = list(range(len(prices) - need + 1))
    rng.shuffle(anchors)
    for i in anchors:
        lo, hi = math.floor(prices[i] / 5) * 5, math.ceil(prices[i + need - 1] / 5) * 5
        if lo > 0 and hi / lo <= 1.4:
            return float(lo), float(hi)
    return None


def build_scenario(kind: str, catalog: Catalog, seed: int = 7) -> Scenario:
    """The same (kind, catalog, seed) always yields the same scenario."""
    if kind not in KINDS:
        raise ValueError(f"unknown scenario {kind!r}; expected one of {', '.join(KINDS)}")
    rng = random.Random(f"{kind}:{seed}")  # str seeds are stable across runs (no hash randomisation)
    products = sorted(catalog.products, key=lambda p: p.product_id)

    if kind in ("brand", "colour"):
        counts = Counter((p.category, getattr(p, kind)) for p in products)
        options = sorted(k for k, n in counts.items() if n >= MIN_CANDIDATES)
        if not options:
            raise ValueError(f"no (category, {kind}) has {MIN_CANDIDATES} products; the catalog is too small")
        category, value = rng.choice(options)
        pref = Preference(kind, category, **{kind: value})
    else:
        categories = sorted({p.category for p in products})
        rng.shuffle(categories)
        for category in categories:
            band = _price_band(rng, [p for p in products if p.category == category])
            if band:
                pref = Preference("price", category, price_min=band[0], price_max=band[1])
                break
        else:
            raise ValueError("no category has a narrow price band with enough products")

    matching = [p for p in products if pref.wants(p)]
    # noise: clearly outside the taste, so it cannot pass for part of it
    others = [p for p in products if p.category == pref.category and not pref.matches(p)]
    chosen = [p.product_id for p in rng.sample(matching, rng.choice((4, 5)))]
    noise_id = None
    if others and rng.random() < 0.7:
        noise_id = rng.choice(others).product_id
        chosen.insert(rng.randrange(1, len(chosen)), noise_id)  # never first: the taste shows up front

    if kind == "price":
        entry, query, apply_filter = "category", "", True  # a price band is found with the filter form
    else:
        entry = rng.choice(("search", "category"))
        query = f"{pref.values[0]} {pref.category}" if entry == "search" else ""
        apply_filter = entry == "category" and rng.random() < 0.6
    return Scenario(kind, pref, tuple(chosen), noise_id, entry, query, apply_filter)
