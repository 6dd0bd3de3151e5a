"""Fast hard-constraint filtering of a large catalog: integer codes per text column, boolean numpy masks.

Comparing object arrays of strings (np.isin) costs tens of milliseconds at a million products; looking up
a small boolean table by each product's int code costs about a millisecond. The index is built once per
catalog (catalogs are immutable) and cached.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from interarec.v1 import optimization_pb2
from services.common.catalog import Catalog


def _codes(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    names, codes = np.unique(values.astype(str), return_inverse=True)
    return [str(x) for x in names], codes.astype(np.int32)


@dataclass(frozen=True)
class CatalogIndex:
    """Column arrays of a catalog with brand/category/colour as int codes into sorted name lists."""

    price: np.ndarray
    rating: np.ndarray
    brand_names: list[str]
    brand: np.ndarray
    category_names: list[str]
    category: np.ndarray
    colour_names: list[str]
    colour: np.ndarray
    row_of_id: dict[str, int]

    @classmethod
    def from_arrays(cls, *, price, rating, brand, category, colour, product_ids) -> CatalogIndex:
        bn, bc = _codes(np.asarray(brand))
        cn, cc = _codes(np.asarray(category))
        on, oc = _codes(np.asarray(colour))
        row_of_id = {pid: i for i, pid in enumerate(product_ids)}
        return cls(np.asarray(price, float), np.asarray(rating, float), bn, bc, cn, cc, on, oc, row_of_id)

    def __len__(self) -> int:
        return int(self.price.size)

    @staticmethod
    def _allowed(names: list[str], wanted) -> np.ndarray | None:
        """Boolean table over codes for the wanted values (case-insensitive); None = no constraint.
        Unknown values match nothing rather than being silently dropped."""
        wanted = [w.strip().casefold() for w in wanted if w.strip()]
        if not wanted:
            return None
        want = set(wanted)
        return np.array([n.casefold() in want for n in names], dtype=bool)

    def mask(self, c: optimization_pb2.Constraints) -> np.ndarray:
        """Catalog rows satisfying every hard filter of the request (pins are handled by the caller)."""
        keep = np.ones(len(self), dtype=bool)
        for names, codes, wanted in ((self.category_names, self.category, c.categories),
                                     (self.brand_names, self.brand, c.brands),
                                     (self.colour_names, self.colour, c.colours)):
            table = self._allowed(names, wanted)
            if table is not None:
                keep &= table[codes]
        banned = self._allowed(self.brand_names, c.exclude_brands)
        if banned is not None:
            keep &= ~banned[self.brand]
        if c.HasField("price_min"):
            keep &= self.price >= c.price_min
        if c.HasField("price_max"):
            keep &= self.price <= c.price_max
        if c.HasField("min_rating"):
            keep &= self.rating >= c.min_rating
        keep[self.rows(c.exclude_product_ids)] = False
        return keep

    def rows(self, product_ids) -> np.ndarray:
        """Catalog rows of the known ids, in the given order (unknown ids are skipped)."""
        return np.array([self.row_of_id[p] for p in product_ids if p in self.row_of_id], dtype=int)

    def excluded(self, c: optimization_pb2.Constraints) -> np.ndarray:
        """Rows the request excludes outright (by id or brand): exclusions win over pins."""
        out = np.zeros(len(self), dtype=bool)
        out[self.rows(c.exclude_product_ids)] = True
        banned = self._allowed(self.brand_names, c.exclude_brands)
        if banned is not None:
            out |= banned[self.brand]
        return out


_INDEX: weakref.WeakKeyDictionary[Catalog, CatalogIndex] = weakref.WeakKeyDictionary()


def catalog_index(catalog: Catalog) -> CatalogIndex:
    cached = _INDEX.get(catalog)
    if cached is None:
        cached = CatalogIndex.from_arrays(price=catalog.price, rating=catalog.rating, brand=catalog.brand,
                                          category=catalog.category, colour=catalog.colour,
                                          product_ids=[p.product_id for p in catalog.products])
        _INDEX[catalog] = cached
    return cached
