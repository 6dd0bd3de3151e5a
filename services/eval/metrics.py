"""Ranking and assortment metrics (pure functions over product id lists).

`ranked` is a recommendation list, best first; `relevant` the ground truth, best first (the persona's own
utility order). Conventions, so figures are comparable across runs:
- a hit is a recommended id in `relevant`; only the first K recommended ids count
- recall@K = hits / min(K, |relevant|): with dozens of relevant products a K-item panel could never reach 1
  otherwise (the normalised recall of the top-N literature)
- NDCG@K uses graded gains from the ground-truth order: the i-th best relevant product (0-based) gains
  1 - i / |relevant| (the best gains 1, the worst just above 0), discounted by log2(rank + 1)
- every metric is 0 for an empty recommendation or an empty ground truth (nothing could be found)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def _top(ranked: Sequence[str], k: int) -> list[str]:
    return list(dict.fromkeys(ranked))[:k]  # a repeated id counts once, at its first position


def hits(ranked: Sequence[str], relevant: Iterable[str], k: int) -> int:
    rel = set(relevant)
    return sum(1 for pid in _top(ranked, k) if pid in rel)


def hit_rate(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """HR@K: 1 if any of the top K is relevant."""
    return 1.0 if hits(ranked, relevant, k) else 0.0


def precision(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Hits among the top K over K (a short list is not excused: unfilled slots count as misses)."""
    return hits(ranked, relevant, k) / k if k > 0 and relevant else 0.0


def recall(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    return hits(ranked, relevant, k) / min(k, len(set(relevant))) if k > 0 and relevant else 0.0


def f1(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    p, r = precision(ranked, relevant, k), recall(ranked, relevant, k)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def mrr(ranked: Sequence[str], relevant: Sequence[str], k: int | None = None) -> float:
    """Reciprocal rank of the first relevant item (within the top K if given)."""
    rel = set(relevant)
    for rank, pid in enumerate(_top(ranked, k if k is not None else len(ranked)), 1):
        if pid in rel:
            return 1.0 / rank
    return 0.0


def _gains(relevant: Sequence[str]) -> dict[str, float]:
    order = list(dict.fromkeys(relevant))
    return {pid: 1.0 - i / len(order) for i, pid in enumerate(order)}


def ndcg(ranked: Sequence[str], relevant: Sequence[str], k: int) -> float:
    gains = _gains(relevant)
    if not gains or k <= 0:
        return 0.0
    dcg = sum(gains.get(pid, 0.0) / math.log2(rank + 1) for rank, pid in enumerate(_top(ranked, k), 1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, 1))
    return dcg / idcg


def satisfaction(items: Sequence[str], satisfies) -> float:
    """Constraint satisfaction: share of the recommended items meeting every hidden preference (0 if none)."""
    items = list(dict.fromkeys(items))
    return sum(1 for pid in items if satisfies(pid)) / len(items) if items else 0.0


def coverage(lists: Iterable[Sequence[str]], catalog_size: int) -> float:
    """Catalog coverage: distinct products recommended at least once, over the catalog size."""
    seen: set[str] = set()
    for items in lists:
        seen.update(items)
    return len(seen) / catalog_size if catalog_size else 0.0


SATISFYING_SHARE = 0.75  # a recommendation "satisfies" the shopper when this share of its items meets the preference


def first_satisfying(timeline: Sequence[tuple[float, Sequence[str]]], satisfies, threshold: float) -> float | None:
    """Seconds from session start to the first recommendation whose satisfaction reaches `threshold`;
    timeline = [(seconds since start, items)] in time order. None if none ever does."""
    for t, items in timeline:
        if items and satisfaction(items, satisfies) >= threshold:
            return t
    return None
