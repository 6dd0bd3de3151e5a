"""Admission to the gateway's bounded resources (frames in flight, decode threads), shared fairly between
tenants. A request never waits: it gets a slot or a 429, so nothing queues without bound.

Fair share: a tenant may hold at most limit / (tenants holding or recently refused), and while it is the only
one active, never the last `reserve` slots. A tenant arriving while another holds everything it may therefore
finds a slot free, and once it has been refused, the others' shares shrink until it gets its own: one tenant
flooding within its rate limit cannot starve another. Pure: the clock is passed in."""

from __future__ import annotations

WAITING_S = 2.0  # a refused tenant counts as active this long (its retry is due within Retry-After)


class FairSlots:
    def __init__(self, limit: int):
        self.limit = limit
        self.reserve = max(1, limit // 4) if limit > 1 else 0
        self.held: dict[str, int] = {}
        self.waiting: dict[str, float] = {}  # tenant -> until when it counts as active after a refusal

    @property
    def in_use(self) -> int:
        return sum(self.held.values())

    def share(self, tenant: str, now: float) -> int:
        """How many slots `tenant` may hold at this moment."""
        self.waiting = {t: until for t, until in self.waiting.items() if until > now}
        active = len(set(self.held) | set(self.waiting) | {tenant})
        alone_cap = self.limit - self.reserve if active == 1 else self.limit
        return max(1, min(alone_cap, self.limit // active))

    def try_acquire(self, tenant: str, now: float) -> bool:
        if self.in_use >= self.limit or self.held.get(tenant, 0) >= self.share(tenant, now):
            self.waiting[tenant] = now + WAITING_S
            return False
        self.held[tenant] = self.held.get(tenant, 0) + 1
        self.waiting.pop(tenant, None)
        return True

    def release(self, tenant: str) -> None:
        left = self.held[tenant] - 1
        if left:
            self.held[tenant] = left
        else:
            del self.held[tenant]
