"""Stream slots for the SSE endpoint (pure). Session tokens: services/common/session_tokens.py."""

from __future__ import annotations


class StreamSlots:
    """Concurrent SSE streams per tenant, capped so one tenant cannot exhaust the server's connections."""

    def __init__(self, per_tenant: int):
        self.per_tenant = per_tenant
        self._open: dict[str, int] = {}

    def try_open(self, tenant: str) -> bool:
        if self._open.get(tenant, 0) >= self.per_tenant:
            return False
        self._open[tenant] = self._open.get(tenant, 0) + 1
        return True

    def close(self, tenant: str) -> None:
        left = self._open.get(tenant, 0) - 1
        if left > 0:
            self._open[tenant] = left
        else:
            self._open.pop(tenant, None)

    def open_count(self, tenant: str) -> int:
        return self._open.get(tenant, 0)
