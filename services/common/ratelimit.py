"""Per-tenant token buckets, so one tenant's burst cannot take another's share of a service (pure: the
clock is passed in). Used by the gateway (frames) and the storefront API (requests)."""

from __future__ import annotations

import math


class RateLimiter:
    """Token bucket per tenant: `rate` requests per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, last refill time)

    def acquire(self, tenant: str, now: float) -> float:
        """0 when the request may proceed, else the seconds to wait before retrying."""
        tokens, last = self._buckets.get(tenant, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[tenant] = (tokens - 1.0, now)
            return 0.0
        self._buckets[tenant] = (tokens, now)
        return (1.0 - tokens) / self.rate


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))
