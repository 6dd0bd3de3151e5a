"""The product catalog: schema, loading with clear errors, and hard-constraint filtering.

A catalog is one Parquet file with the columns in `SCHEMA` (see README, "Bring your own catalog").
Product images live in an `images/` folder beside the Parquet file, named by the `image` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

# column -> (arrow type name, meaning). Order is the documented order.
SCHEMA: dict[str, tuple[str, str]] = {
    "product_id": ("string", "unique id, shown on the product page as 'SKU: <id>'"),
    "title": ("string", "product name as shown in the shop, unique"),
    "brand": ("string", "brand name"),
    "category": ("string", "one of the shop's top-level categories"),
    "colour": ("string", "main colour, a plain colour word"),
    "price": ("double", "selling price in the catalog currency, > 0"),
    "margin": ("double", "gross margin as a fraction of price, 0..1"),
    "rating": ("double", "mean star rating, 0..5"),
    "review_count": ("int64", "number of reviews, >= 0"),
    "description": ("string", "one or two sentences"),
    "specs": ("string", "'key: value' pairs separated by '; '"),
    "image": ("string", "image file name inside images/ beside the Parquet file"),
}
CURRENCY = "USD"


class CatalogError(ValueError):
    """The catalog file is missing, unreadable or does not match SCHEMA."""


@dataclass(frozen=True)
class Product:
    product_id: str
    title: str
    brand: str
    category: str
    colour: str
    price: float
    margin: float
    rating: float
    review_count: int
    description: str
    specs: str
    image: str

    @property
    def spec_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for part in self.specs.split(";"):
            key, _, value = part.partition(":")
            if key.strip() and value.strip():
                pairs.append((key.strip(), value.strip()))
        return pairs


class Catalog:
    """Immutable, in-memory catalog with column arrays for vectorised filtering."""

    def __init__(self, products: list[Product], images_dir: Path | None = None):
        if not products:
            raise CatalogError("catalog has no products")
        self.products = products
        self.images_dir = images_dir
        self.by_id = {p.product_id: p for p in products}
        if len(self.by_id) != len(products):
            raise CatalogError("product_id values are not unique")
        self.index = {p.product_id: i for i, p in enumerate(products)}
        self.price = np.array([p.price for p in products], dtype=float)
        self.margin = np.array([p.margin for p in products], dtype=float)
        self.rating = np.array([p.rating for p in products], dtype=float)
        self.review_count = np.array([p.review_count for p in products], dtype=float)
        self.brand = np.array([p.brand for p in products], dtype=object)
        self.category = np.array([p.category for p in products], dtype=object)
        self.colour = np.array([p.colour for p in products], dtype=object)

    def __len__(self) -> int:
        return len(self.products)

    @cached_property
    def brands(self) -> list[str]:
        return sorted(set(self.brand))

    @cached_property
    def categories(self) -> list[str]:
        return sorted(set(self.category))

    @cached_property
    def colours(self) -> list[str]:
        return sorted(set(self.colour))

    def mask(
        self,
        *,
        categories: list[str] | tuple[str, ...] = (),
        brands: list[str] | tuple[str, ...] = (),
        colours: list[str] | tuple[str, ...] = (),
        price_min: float | None = None,
        price_max: float | None = None,
        min_rating: float | None = None,
        exclude_ids: list[str] | tuple[str, ...] = (),
    ) -> np.ndarray:
        """Boolean mask of products satisfying every given hard constraint (empty = no constraint)."""
        keep = np.ones(len(self.products), dtype=bool)
        if categories:
            keep &= np.isin(self.category, list(categories))
        if brands:
            keep &= np.isin(self.brand, list(brands))
        if colours:
            keep &= np.isin(self.colour, list(colours))
        if price_min is not None:
            keep &= self.price >= price_min
        if price_max is not None:
            keep &= self.price <= price_max
        if min_rating is not None:
            keep &= self.rating >= min_rating
        for pid in exclude_ids:
            i = self.index.get(pid)
            if i is not None:
                keep[i] = False
        return keep

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.exists():
            raise CatalogError(f"catalog not found at {path} (generate the demo one with `make catalog`, "
                               "or point INTERAREC_CATALOG_PATH at your own Parquet file)")
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
        missing = [c for c in SCHEMA if c not in table.column_names]
        if missing:
            raise CatalogError(f"catalog {path} lacks columns {missing}; expected {list(SCHEMA)}")
        rows = table.select(list(SCHEMA)).to_pylist()
        products = []
        for n, row in enumerate(rows):
            if any(row[c] is None for c in SCHEMA):
                raise CatalogError(f"catalog {path} row {n} has empty values: {row}")
            product = Product(**{**row, "price": float(row["price"]), "margin": float(row["margin"]),
                                 "rating": float(row["rating"]), "review_count": int(row["review_count"])})
            if product.price <= 0 or not 0 <= product.margin <= 1 or not 0 <= product.rating <= 5:
                raise CatalogError(f"catalog {path} row {n} ({product.product_id}) has out-of-range "
                                   "price, margin or rating")
            products.append(product)
        return cls(products, images_dir=path.parent / "images")
