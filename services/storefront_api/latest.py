"""Recommendations per (tenant, session): the latest, a bounded window history, and live subscribers
(pure, no I/O). Every lookup takes the tenant, so one tenant's session is invisible to every other."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Mapping

from google.protobuf.json_format import MessageToDict

from interarec.v1 import recommendations_pb2
from services.common.keys import session_key


class LatestRecommendations:
    """Keeps the newest `history_size` windows per session (bounded LRU over sessions) and fans updates out.

    Delivery is at-least-once and the topic is re-read from the start on boot, so a duplicate or a stale
    window must neither replace a newer recommendation nor be pushed to a subscriber again. Records
    without a tenant belong to nobody and are refused."""

    def __init__(self, max_sessions: int = 20_000, queue_size: int = 8, history_size: int = 10,
                 max_shown_windows: int = 500):
        self.max_sessions = max_sessions
        self.queue_size = queue_size
        self.history_size = history_size
        self.max_shown_windows = max_shown_windows
        self._history: OrderedDict[str, deque[recommendations_pb2.Recommendation]] = OrderedDict()
        # What each window showed (product ids), kept as long as the session is kept and far longer than the
        # full history: feedback naming an old window is checked against it, never waved through.
        self._shown: dict[str, OrderedDict[int, frozenset[str]]] = {}
        self._subscribers: dict[str, set[asyncio.Queue]] = {}

    def get(self, tenant: str, session_id: str) -> recommendations_pb2.Recommendation | None:
        windows = self._history.get(session_key(tenant, session_id))
        return windows[-1] if windows else None

    def history(self, tenant: str, session_id: str) -> list[recommendations_pb2.Recommendation]:
        """Oldest first."""
        return list(self._history.get(session_key(tenant, session_id), ()))

    def shown(self, tenant: str, session_id: str) -> Mapping[int, frozenset[str]]:
        """window_seq -> the product ids that window recommended (the newest max_shown_windows windows)."""
        return self._shown.get(session_key(tenant, session_id), {})

    def after(self, tenant: str, session_id: str, window_seq: int) -> list[recommendations_pb2.Recommendation]:
        """Windows newer than window_seq still in the history, oldest first (SSE resume)."""
        return [r for r in self.history(tenant, session_id) if r.window_seq > window_seq]

    def __len__(self) -> int:
        return len(self._history)

    def offer(self, rec: recommendations_pb2.Recommendation) -> bool:
        """Store if newer than what we have; notify subscribers. Returns whether it was newer."""
        if not rec.tenant or not rec.session_id:
            return False
        key = session_key(rec.tenant, rec.session_id)
        windows = self._history.get(key)
        if windows and rec.window_seq <= windows[-1].window_seq:
            return False
        if windows is None:
            windows = self._history[key] = deque(maxlen=self.history_size)
        windows.append(rec)
        shown = self._shown.setdefault(key, OrderedDict())
        shown[rec.window_seq] = frozenset(item.product_id for item in rec.items)
        if len(shown) > self.max_shown_windows:
            shown.popitem(last=False)
        self._history.move_to_end(key)
        if len(self._history) > self.max_sessions:
            evicted, _ = self._history.popitem(last=False)
            self._shown.pop(evicted, None)
        for queue in self._subscribers.get(key, ()):
            if queue.full():  # a slow reader only needs the newest state
                queue.get_nowait()
            queue.put_nowait(rec)
        return True

    def subscribe(self, tenant: str, session_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size)
        self._subscribers.setdefault(session_key(tenant, session_id), set()).add(queue)
        return queue

    def unsubscribe(self, tenant: str, session_id: str, queue: asyncio.Queue) -> None:
        key = session_key(tenant, session_id)
        queues = self._subscribers.get(key)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[key]


def _dict(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def to_json(rec: recommendations_pb2.Recommendation) -> dict:
    """The storefront's view of a recommendation: items with reasons, why (summary), and under which
    constraints and business rules."""
    request = rec.request
    return {
        "session_id": rec.session_id,
        "window_seq": rec.window_seq,
        "items": [_dict(item) for item in rec.items],
        "expected_revenue": round(rec.expected_revenue, 4),
        "no_purchase_probability": round(rec.no_purchase_probability, 4),
        "solver": rec.solver,
        "solve_ms": round(rec.solve_ms, 3),
        "candidates": rec.candidates,
        "summary": MessageToDict(request.summary, preserving_proto_field_name=True),
        "constraints": MessageToDict(request.constraints, preserving_proto_field_name=True),
        "relaxations": [MessageToDict(r, preserving_proto_field_name=True) for r in request.relaxations],
        "applied_rules": list(request.applied_rules),
        "shaping_constraints": list(rec.shaping_constraints),
        "capture_unix_ms": rec.trace.capture_unix_ms,
        "stages": [MessageToDict(s, preserving_proto_field_name=True) for s in rec.trace.stages],
    }
