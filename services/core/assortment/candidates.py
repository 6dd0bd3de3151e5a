"""Constraints -> candidates, once for every stage: `candidate_rows(catalog, constraints)` is what the
decomposer's relaxation counts, what the llm backend checks pins against and what the optimizer solves over.

Fast hard-constraint filtering of a large catalog: integer codes per text column, boolean numpy masks.

Comparing object arrays of strings (np.isin) costs tens of milliseconds at a million products. Instead each
text column keeps int codes and a posting list per code (rows sorted by code): the most selective text
filter yields its rows directly, and the remaining filters are evaluated on those rows only. The index is
built once per catalog (catalogs are immutable) and cached.
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
class Postings:
    """Rows grouped by code: rows[start[c]:start[c + 1]] are the rows with code c, ascending."""

    rows: np.ndarray
    start: np.ndarray

    @classmethod
    def build(cls, codes: np.ndarray, n_codes: int) -> Postings:
        rows = np.argsort(codes, kind="stable")
        return cls(rows, np.searchsorted(codes[rows], np.arange(n_codes + 1)))

    def size(self, table: np.ndarray) -> int:
        return int(np.diff(self.start)[table].sum())

    def union(self, table: np.ndarray) -> np.ndarray:
        parts = [self.rows[self.start[c]:self.start[c + 1]] for c in np.flatnonzero(table).tolist()]
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))


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
    postings: tuple[Postings, Postings, Postings]  # brand, category, colour

    @classmethod
    def from_arrays(cls, *, price, rating, brand, category, colour, product_ids) -> CatalogIndex:
        bn, bc = _codes(np.asarray(brand))
        cn, cc = _codes(np.asarray(category))
        on, oc = _codes(np.asarray(colour))
        row_of_id = {pid: i for i, pid in enumerate(product_ids)}
        postings = (Postings.build(bc, len(bn)), Postings.build(cc, len(cn)), Postings.build(oc, len(on)))
        return cls(np.asarray(price, float), np.asarray(rating, float), bn, bc, cn, cc, on, oc, row_of_id,
                   postings)

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

    def candidates(self, c: optimization_pb2.Constraints) -> np.ndarray:
        """Sorted catalog rows satisfying every hard filter of the request (pins are the caller's)."""
        filters = []
        for names, codes, post, wanted in ((self.brand_names, self.brand, self.postings[0], c.brands),
                                           (self.category_names, self.category, self.postings[1], c.categories),
                                           (self.colour_names, self.colour, self.postings[2], c.colours)):
            table = self._allowed(names, wanted)
            if table is not None:
                filters.append((post.size(table), post, table, codes))
        if filters:  # start from the most selective text filter's posting lists
            filters.sort(key=lambda f: f[0])
            _, post, table, _ = filters.pop(0)
            rows = post.union(table)
        else:
            rows = np.arange(len(self))
        # each filter shrinks the rows the next one looks at
        for _, _, table, codes in filters:
            rows = rows[table[codes[rows]]]
        banned = self._allowed(self.brand_names, c.exclude_brands)
        if banned is not None:
            rows = rows[~banned[self.brand[rows]]]
        if c.HasField("price_min"):
            rows = rows[self.price[rows] >= c.price_min]
        if c.HasField("price_max"):
            rows = rows[self.price[rows] <= c.price_max]
        if c.HasField("min_rating"):
            rows = rows[self.rating[rows] >= c.min_rating]
        excluded = self.rows(c.exclude_product_ids)
        if excluded.size:
            rows = rows[~np.isin(rows, excluded)]
        return rows

    def mask(self, c: optimization_pb2.Constraints) -> np.ndarray:
        """Boolean mask form of `candidates`."""
        keep = np.zeros(len(self), dtype=bool)
        keep[self.candidates(c)] = True
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


def candidate_rows(catalog: Catalog, c: optimization_pb2.Constraints) -> np.ndarray:
    """Sorted catalog rows meeting every hard filter and exclusion of `c` (brands, categories, colours, price
    band, rating floor, excluded brands and products); pins are not candidates by themselves."""
    return catalog_index(catalog).candidates(c)


def candidate_mask(catalog: Catalog, c: optimization_pb2.Constraints) -> np.ndarray:
    """Boolean mask over catalog rows of `candidate_rows`."""
    return catalog_index(catalog).mask(c)
