"""Which sessions need a tick (pure, no I/O): an open window idle past idle_ms, or a session idle past its TTL.

The idle timer never writes session state. It keeps this in-memory index of the sessions it owns (fed by the
agent after every write, rebuilt from the table after a rebalance) and asks the agent -- the session's only
writer -- to act, by a control record on the frames topic (Frame.control = TICK). The agent then closes the
window or expires the session in order with the session's frames, so a close can never race a frame, no lock
is needed, and a timer on a worker that lost the session's partition only sends a tick its new owner checks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Activity:
    tenant: str
    session_id: str
    seen_ms: int                 # processing time of the session's newest record
    window_last_ms: int | None   # processing time of the open window's newest distinct frame; None: no window
    ticked_ms: int | None = None  # when a tick was last sent for the current state


class ActivityIndex:
    def __init__(self) -> None:
        self.sessions: dict[str, Activity] = {}
        self.partitions: set[int] | None = None  # owned partitions the index was built for

    def __len__(self) -> int:
        return len(self.sessions)

    def record(self, key: str, tenant: str, session_id: str, seen_ms: int, window_last_ms: int | None) -> None:
        self.sessions[key] = Activity(tenant, session_id, seen_ms, window_last_ms)

    def forget(self, key: str) -> None:
        self.sessions.pop(key, None)

    def retain(self, keep) -> None:
        """Drop sessions for which keep(key) is false (e.g. on partitions no longer owned)."""
        self.sessions = {k: a for k, a in self.sessions.items() if keep(k)}

    def due(self, now_ms: int, idle_ms: int, ttl_ms: int, retick_ms: int) -> list[str]:
        """Sessions needing a tick now; marks them ticked. A tick that got lost is re-sent after retick_ms."""
        out = []
        for key, a in self.sessions.items():
            idle = a.window_last_ms is not None and now_ms - a.window_last_ms >= idle_ms
            expired = now_ms - a.seen_ms >= ttl_ms
            if (idle or expired) and (a.ticked_ms is None or now_ms - a.ticked_ms >= retick_ms):
                a.ticked_ms = now_ms
                out.append(key)
        return out
