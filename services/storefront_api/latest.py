"""Latest recommendation per session, never going backwards, with live subscribers (pure, no I/O)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from google.protobuf.json_format import MessageToDict

from interarec.v1 import recommendations_pb2


class LatestRecommendations:
    """Keeps the highest-window_seq recommendation per session (bounded LRU) and fans updates out.

    Delivery is at-least-once and the topic is re-read from the start on boot, so a duplicate or a stale
    window must neither replace a newer recommendation nor be pushed to a subscriber again."""

    def __init__(self, max_sessions: int = 100_000, queue_size: int = 8):
        self.max_sessions = max_sessions
        self.queue_size = queue_size
        self._latest: OrderedDict[str, recommendations_pb2.Recommendation] = OrderedDict()
        self._subscribers: dict[str, set[asyncio.Queue]] = {}

    def get(self, session_id: str) -> recommendations_pb2.Recommendation | None:
        return self._latest.get(session_id)

    def __len__(self) -> int:
        return len(self._latest)

    def offer(self, rec: recommendations_pb2.Recommendation) -> bool:
        """Store if newer than what we have; notify subscribers. Returns whether it was newer."""
        current = self._latest.get(rec.session_id)
        if current is not None and rec.window_seq <= current.window_seq:
            return False
        self._latest[rec.session_id] = rec
        self._latest.move_to_end(rec.session_id)
        if len(self._latest) > self.max_sessions:
            self._latest.popitem(last=False)
        for queue in self._subscribers.get(rec.session_id, ()):
            if queue.full():  # a slow reader only needs the newest state
                queue.get_nowait()
            queue.put_nowait(rec)
        return True

    def subscribe(self, session_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size)
        self._subscribers.setdefault(session_id, set()).add(queue)
        return queue

    def unsubscribe(self, session_id: str, queue: asyncio.Queue) -> None:
        queues = self._subscribers.get(session_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[session_id]


def to_json(rec: recommendations_pb2.Recommendation) -> dict:
    """The storefront's view of a recommendation: items, why (summary), and under which constraints."""
    request = rec.request
    return {
        "session_id": rec.session_id,
        "window_seq": rec.window_seq,
        "items": [MessageToDict(item, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
                  for item in rec.items],
        "expected_revenue": round(rec.expected_revenue, 4),
        "no_purchase_probability": round(rec.no_purchase_probability, 4),
        "solver": rec.solver,
        "solve_ms": round(rec.solve_ms, 3),
        "candidates": rec.candidates,
        "summary": MessageToDict(request.summary, preserving_proto_field_name=True),
        "constraints": MessageToDict(request.constraints, preserving_proto_field_name=True),
        "relaxations": [MessageToDict(r, preserving_proto_field_name=True) for r in request.relaxations],
        "capture_unix_ms": rec.trace.capture_unix_ms,
        "stages": [MessageToDict(s, preserving_proto_field_name=True) for s in rec.trace.stages],
    }
