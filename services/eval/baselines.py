"""Baseline recommenders for the evaluation, all pure and seeded. Each sees only what it is allowed to:

- random: nothing (a seeded sample)
- popularity: nothing about the session (rating x log review count, the shop's "best loved")
- web-log content-based: what a web server log records of the same session: the URLs requested (product pages
  give product ids, hence their catalog attributes), search queries and filter parameters. It never sees a
  screen: not the prices or products shown on listings, compare tables or banners
- session item-kNN: the session's viewed product ids only; each viewed product's nearest catalog neighbours
  by item similarity, summed with recency weights (V-SKNN style). No interaction log exists for this shop, so
  item similarity is content similarity (same category, brand, colour; price ratio)

All exclude the products the session already viewed, like InteraRec does."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from services.common.catalog import Catalog
from services.core.recency import recency_weights

KNN_NEIGHBOURS = 50


@dataclass
class WebLog:
    """A session as a web server log sees it."""

    viewed: list[str] = field(default_factory=list)  # product page requests, in order (repeats collapsed)
    compared: list[str] = field(default_factory=list)  # ids in compare-page URLs
    queries: list[str] = field(default_factory=list)
    filters: list[dict] = field(default_factory=list)  # category, brand, colour, price_min, price_max, sort
    categories: list[str] = field(default_factory=list)  # category listings requested


_PRODUCT = re.compile(r"^/p/([^/?#]+)")
_CATEGORY = re.compile(r"^/c/([^/?#]+)")


def web_log(urls: list[str], catalog: Catalog) -> WebLog:
    """Parse requested URLs (in time order) into a web log."""
    log = WebLog()
    last = None
    for url in urls:
        if url == last:
            continue
        last = url
        parts = urlsplit(url)
        q = parse_qs(parts.query)
        if m := _PRODUCT.match(parts.path):
            pid = unquote(m.group(1))
            if pid in catalog.by_id and (not log.viewed or log.viewed[-1] != pid):
                log.viewed.append(pid)
        elif m := _CATEGORY.match(parts.path):
            cat = unquote(m.group(1))
            log.categories.append(cat)
            f = {"category": cat}
            for key in ("brand", "colour", "price_min", "price_max", "sort"):
                if q.get(key) and q[key][0].strip():
                    f[key] = q[key][0].strip()
            if len(f) > 1:
                log.filters.append(f)
        elif parts.path.startswith("/search") and q.get("q"):
            log.queries.append(q["q"][0])
        elif parts.path.startswith("/compare") and q.get("ids"):
            log.compared += [i for i in q["ids"][0].split(",") if i in catalog.by_id]
    return log


def _top(score: np.ndarray, catalog: Catalog, exclude: set[str], k: int) -> list[str]:
    score = score.astype(float).copy()
    for pid in exclude:
        if pid in catalog.index:
            score[catalog.index[pid]] = -np.inf
    pop = popularity_score(catalog)
    order = np.lexsort((-pop, -score))  # ties by popularity
    return [catalog.products[i].product_id for i in order[:k] if np.isfinite(score[i])]


def popularity_score(catalog: Catalog) -> np.ndarray:
    return catalog.rating * np.log1p(catalog.review_count)


def random_items(catalog: Catalog, exclude: set[str], k: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = [p.product_id for p in catalog.products if p.product_id not in exclude]
    return rng.sample(pool, min(k, len(pool)))


def popular_items(catalog: Catalog, exclude: set[str], k: int) -> list[str]:
    return _top(popularity_score(catalog), catalog, exclude, k)


def _recency(n: int) -> list[float]:
    return recency_weights(n)  # the same decay as InteraRec's summary: neither side gains from a different memory


def weblog_content(catalog: Catalog, log: WebLog, k: int) -> list[str]:
    """Score = recency-weighted share of viewed products sharing the item's category, brand and colour, plus
    closeness to their price level, plus the stated filters and search words; cold: popularity."""
    score = np.zeros(len(catalog))
    viewed = [catalog.by_id[p] for p in log.viewed]
    if viewed:
        w = np.array(_recency(len(viewed)))
        w = w / w.sum()
        for attr in ("category", "brand", "colour"):
            col = getattr(catalog, attr)
            for p, wi in zip(viewed, w, strict=True):
                score += wi * (col == getattr(p, attr))
        anchor = math.exp(sum(wi * math.log(p.price) for p, wi in zip(viewed, w, strict=True)))
        score += np.exp(-np.abs(np.log(catalog.price / anchor)))
    if log.filters:
        f = log.filters[-1]  # the filter state in effect is the newest one
        score += 1.0 * (catalog.category == f["category"])
        if "brand" in f:
            score += 1.0 * (catalog.brand == f["brand"])
        if "colour" in f:
            score += 1.0 * (catalog.colour == f["colour"])
        lo, hi = _money(f.get("price_min")), _money(f.get("price_max"))
        if lo is not None or hi is not None:
            score += 1.0 * ((catalog.price >= (lo or 0)) & (catalog.price <= (hi or np.inf)))
    elif log.categories and not viewed:
        score += 1.0 * (catalog.category == log.categories[-1])
    for query in log.queries[-1:]:
        words = re.findall(r"[a-z0-9]+", query.lower())
        for attr in ("category", "brand", "colour"):
            col = np.char.lower(getattr(catalog, attr).astype(str))
            score += 0.5 * np.isin(col, words)
    if not score.any():
        return popular_items(catalog, set(log.viewed), k)
    return _top(score, catalog, set(log.viewed), k)


def _money(raw) -> float | None:
    try:
        return float(str(raw).replace(",", "").lstrip("$")) if raw not in (None, "") else None
    except ValueError:
        return None


def item_similarity(catalog: Catalog, idx: int) -> np.ndarray:
    """Content similarity of every catalog item to item idx, in [0, 3.5]."""
    p = catalog.products[idx]
    return ((catalog.category == p.category) * 1.0 + (catalog.brand == p.brand) * 1.0
            + (catalog.colour == p.colour) * 0.5 + np.exp(-np.abs(np.log(catalog.price / p.price))))


def item_knn(catalog: Catalog, log: WebLog, k: int, neighbours: int = KNN_NEIGHBOURS) -> list[str]:
    if not log.viewed:
        return popular_items(catalog, set(), k)
    score = np.zeros(len(catalog))
    for pid, w in zip(log.viewed, _recency(len(log.viewed)), strict=True):
        sim = item_similarity(catalog, catalog.index[pid])
        sim[catalog.index[pid]] = 0.0
        keep = np.argpartition(-sim, neighbours)[:neighbours]
        score[keep] += w * sim[keep]
    return _top(np.where(score > 0, score, -np.inf), catalog, set(log.viewed), k)
