"""Trending products and categories per tenant over sliding windows of views and clicks (pure).

Views come from the behaviour summaries inside recommendations (the products a shopper actually looked
at), clicks from the feedback topic. Counts live in one-minute buckets, so a window is a sum over the
buckets it covers and memory per tenant is bounded by products x buckets within the longest window. A
summary repeats a session's recent views window after window, so each (session, product) view counts once.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass

BUCKET_MS = 60_000
WINDOWS_S = {"15m": 900, "1h": 3600, "24h": 86_400}
CLICK_WEIGHT = 3.0  # a click says more about interest than a view


@dataclass
class Counts:
    views: int = 0
    clicks: int = 0

    @property
    def score(self) -> float:
        return self.views + CLICK_WEIGHT * self.clicks


class Trending:
    def __init__(self, horizon_s: int = max(WINDOWS_S.values()), max_seen_views: int = 500_000):
        self.horizon_ms = horizon_s * 1000
        # tenant -> deque of (bucket start ms, {(product_id, category): Counts}), oldest first
        self._buckets: dict[str, deque[tuple[int, dict[tuple[str, str], Counts]]]] = defaultdict(deque)
        self._seen: OrderedDict[tuple[str, str, str], None] = OrderedDict()  # (tenant, session, product)
        self.max_seen_views = max_seen_views

    def _bucket(self, tenant: str, ts_ms: int, now_ms: int) -> dict[tuple[str, str], Counts] | None:
        if ts_ms <= now_ms - self.horizon_ms or ts_ms > now_ms + BUCKET_MS:
            return None  # outside every window (or clock skew into the future)
        start = ts_ms - ts_ms % BUCKET_MS
        buckets = self._buckets[tenant]
        for bucket_start, counts in reversed(buckets):  # events arrive roughly in order: search from the end
            if bucket_start == start:
                return counts
            if bucket_start < start:
                break
        counts: dict[tuple[str, str], Counts] = defaultdict(Counts)
        buckets.append((start, counts))
        if len(buckets) > 1 and buckets[-2][0] > start:  # late event: keep buckets sorted
            ordered = sorted(buckets, key=lambda b: b[0])
            buckets.clear()
            buckets.extend(ordered)
        self._expire(tenant, now_ms)
        return counts

    def _expire(self, tenant: str, now_ms: int) -> None:
        buckets = self._buckets[tenant]
        while buckets and buckets[0][0] + BUCKET_MS <= now_ms - self.horizon_ms:
            buckets.popleft()

    def view(self, tenant: str, session_id: str, product_id: str, category: str, ts_ms: int, now_ms: int) -> None:
        key = (tenant, session_id, product_id)
        if key in self._seen:
            return
        counts = self._bucket(tenant, ts_ms, now_ms)
        if counts is None:
            return
        self._seen[key] = None
        if len(self._seen) > self.max_seen_views:
            self._seen.popitem(last=False)
        counts[(product_id, category)].views += 1

    def click(self, tenant: str, product_id: str, category: str, ts_ms: int, now_ms: int) -> None:
        counts = self._bucket(tenant, ts_ms, now_ms)
        if counts is not None:
            counts[(product_id, category)].clicks += 1

    def top(self, tenant: str, window_s: int, now_ms: int, limit: int) -> tuple[list[dict], list[dict]]:
        """(products, categories), each sorted by score (views + CLICK_WEIGHT x clicks), highest first."""
        since = now_ms - window_s * 1000
        products: dict[tuple[str, str], Counts] = defaultdict(Counts)
        for start, counts in self._buckets.get(tenant, ()):
            if start + BUCKET_MS <= since:
                continue
            for key, c in counts.items():
                products[key].views += c.views
                products[key].clicks += c.clicks
        categories: dict[str, Counts] = defaultdict(Counts)
        for (_, category), c in products.items():
            categories[category].views += c.views
            categories[category].clicks += c.clicks

        def rows(items, name):
            ranked = sorted(items, key=lambda kv: (-kv[1].score, kv[0]))[:limit]
            return [{name: key, "views": c.views, "clicks": c.clicks, "score": c.score} for key, c in ranked]

        return (rows(((pid, c) for (pid, _), c in products.items()), "product_id"),
                rows(categories.items(), "category"))
