"""Search, category filtering and featured picks over the catalog (pure functions, no HTTP)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from services.common.catalog import Catalog, Product

SORTS = {
    "popular": "Most reviewed",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "rating": "Top rated",
}


@dataclass(frozen=True)
class CategoryFilters:
    brand: str | None = None
    colour: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    sort: str = "popular"

    def active(self) -> list[str]:
        """Human-readable active filters, e.g. ['Brand: Norda', 'Price: $50.00 - $100.00']."""
        out = []
        if self.brand:
            out.append(f"Brand: {self.brand}")
        if self.colour:
            out.append(f"Colour: {self.colour}")
        if self.price_min is not None and self.price_max is not None:
            out.append(f"Price: ${self.price_min:,.2f} - ${self.price_max:,.2f}")
        elif self.price_min is not None:
            out.append(f"Price: from ${self.price_min:,.2f}")
        elif self.price_max is not None:
            out.append(f"Price: up to ${self.price_max:,.2f}")
        return out


def parse_price(raw: str | None) -> float | None:
    """A form price field: '' or junk means no bound (a shop shows all rather than an error page)."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw.strip().lstrip("$").replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _order(catalog: Catalog, idx: np.ndarray, sort: str) -> list[Product]:
    ids = np.array([catalog.products[i].product_id for i in idx], dtype=object)
    if sort == "price_asc":
        keys = (ids, catalog.price[idx])
    elif sort == "price_desc":
        keys = (ids, -catalog.price[idx])
    elif sort == "rating":
        keys = (ids, -catalog.review_count[idx], -catalog.rating[idx])
    else:
        keys = (ids, -catalog.review_count[idx])
    order = np.lexsort(keys)  # last key is primary; product_id breaks ties deterministically
    return [catalog.products[i] for i in idx[order]]


def filter_category(catalog: Catalog, category: str, filters: CategoryFilters) -> list[Product]:
    mask = catalog.mask(
        categories=[category],
        brands=[filters.brand] if filters.brand else [],
        colours=[filters.colour] if filters.colour else [],
        price_min=filters.price_min,
        price_max=filters.price_max,
    )
    return _order(catalog, np.flatnonzero(mask), filters.sort)


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class SearchIndex:
    """Word index over title/brand/category/colour, built once per catalog."""

    def __init__(self, catalog: Catalog):
        self._docs = [(p, _tokens(f"{p.title} {p.brand} {p.category} {p.colour}"), _tokens(p.title))
                      for p in catalog.products]

    def search(self, query: str) -> list[Product]:
        """Products containing every query word as a word prefix ('sneaker' finds 'Sneakers'); title hits rank
        first, then by review count."""
        words = _tokens(query)
        if not words:
            return []
        hits: list[tuple[int, int, str, Product]] = []
        for p, fields, title in self._docs:
            if all(any(f.startswith(w) for f in fields) for w in words):
                in_title = sum(any(t.startswith(w) for t in title) for w in words)
                hits.append((-in_title, -p.review_count, p.product_id, p))
        hits.sort(key=lambda h: h[:3])
        return [h[3] for h in hits]


def featured(catalog: Catalog, n: int = 8) -> list[Product]:
    """Best-loved product of each category first (rating weighted by review volume), then the runners-up."""
    score = catalog.rating * np.log1p(catalog.review_count)
    order = np.lexsort((np.array([p.product_id for p in catalog.products], dtype=object), -score))
    picked: list[Product] = []
    seen: set[str] = set()
    for i in order:
        p = catalog.products[i]
        if p.category not in seen:
            seen.add(p.category)
            picked.append(p)
    for i in order:
        if len(picked) >= n:
            break
        if catalog.products[i] not in picked:
            picked.append(catalog.products[i])
    return picked[:n]


def category_facets(catalog: Catalog, category: str) -> tuple[list[str], list[str], tuple[float, float]]:
    """Brands and colours present in a category, and its price range, for the filter form."""
    mask = catalog.mask(categories=[category])
    return (sorted(set(catalog.brand[mask])), sorted(set(catalog.colour[mask])),
            (float(catalog.price[mask].min()), float(catalog.price[mask].max())))
