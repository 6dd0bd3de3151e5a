"""What the boutique layout shows beyond the catalog row: list prices beside sale prices, colour swatches,
customer reviews, comparison sets and promotional banners (pure and deterministic per product id, so the
same page always looks the same and tests can predict it).

The catalog price is always what the shopper pays; a "list price" is only shown above it.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

from services.common.catalog import Catalog, Product

SALE_SHARE = 3  # one product in SALE_SHARE is on sale
DISCOUNTS = (0.15, 0.2, 0.25, 0.3)
_REVIEWERS = ("Alex M.", "Priya K.", "Jordan T.", "Sam W.", "Lena R.", "Chris D.", "Mina H.", "Oscar P.")
_REVIEW_TEXT = (
    (5, "Exactly what I hoped for", "Great quality and it arrived quickly. Would buy again."),
    (4, "Very good value", "Solid build; the finish is nicer than the photos suggest."),
    (3, "Does the job", "Fine for everyday use, nothing special. Packaging could be better."),
    (5, "Love it", "Comfortable, well made and the colour is spot on."),
    (2, "Not for me", "Smaller than I expected, so I sent it back."),
    (4, "Happy with it", "Good product for the price. Delivery took a few days."),
)


def _rng(product_id: str, purpose: str) -> random.Random:
    return random.Random(zlib.crc32(f"{purpose}:{product_id}".encode()))


def list_price(p: Product) -> float | None:
    """The struck-through "List" price of a product on sale, else None. The discount is 15-30 %."""
    rng = _rng(p.product_id, "sale")
    if rng.randrange(SALE_SHARE):
        return None
    return math.ceil(p.price / (1 - rng.choice(DISCOUNTS))) - 0.01


def discount_percent(p: Product) -> int | None:
    lp = list_price(p)
    return round(100 * (1 - p.price / lp)) if lp else None


def swatches(p: Product, catalog: Catalog, n: int = 4) -> list[str]:
    """Colour names offered as swatches: the product's own colour among up to n-1 others of its category."""
    rng = _rng(p.product_id, "swatch")
    others = sorted(c for c in {q.colour for q in catalog.products if q.category == p.category} if c != p.colour)
    picked = rng.sample(others, min(n - 1, len(others))) + [p.colour]
    return sorted(picked)


@dataclass(frozen=True)
class Review:
    stars: int
    headline: str
    text: str
    author: str
    date: str


def reviews(p: Product, n: int = 3) -> list[Review]:
    if p.review_count == 0:
        return []
    rng = _rng(p.product_id, "reviews")
    out = []
    for stars, headline, text in rng.sample(_REVIEW_TEXT, min(n, p.review_count, len(_REVIEW_TEXT))):
        out.append(Review(stars, headline, text, rng.choice(_REVIEWERS),
                          f"{rng.randint(1, 28)} {rng.choice(('March', 'June', 'August', 'October'))} 2026"))
    return out


def stars(rating: float) -> str:
    full = int(rating + 0.5)
    return "★" * full + "☆" * (5 - full)


def similar(p: Product, catalog: Catalog, n: int = 3) -> list[Product]:
    """Products to compare with: same category, nearest in price (deterministic)."""
    same = [q for q in catalog.products if q.category == p.category and q.product_id != p.product_id]
    same.sort(key=lambda q: (abs(q.price - p.price), q.product_id))
    return same[:n]


def deal(catalog: Catalog, category: str | None = None) -> Product | None:
    """The product a promotional banner names: the best-reviewed product on sale (in the category)."""
    pool = [p for p in catalog.products if (category is None or p.category == category) and list_price(p)]
    return max(pool, key=lambda p: (p.review_count, p.rating, p.product_id)) if pool else None
