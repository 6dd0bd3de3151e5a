"""Where our recommendation panel starts, remembered per session (tenant/session key), not per reader.

One reader serves every tenant and session of a summarizer; their shops can have different layouts, so a
panel edge learned on one session's frames must never cut another session's page. The map is bounded: the
least recently used sessions are forgotten first (a forgotten session relearns the edge from its panel's
heading, which the reader looks for until it has found it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_SESSIONS = 20_000  # an int per entry: ~2 MB at most


class PanelGeometry:
    """session key -> x where the panel starts. Thread-safe: the OCR threads share one reader."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be >= 1")
        self.max_sessions = max_sessions
        self._left: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: str) -> int | None:
        with self._lock:
            left = self._left.get(session)
            if left is not None:
                self._left.move_to_end(session)
            return left

    def set(self, session: str, left: int) -> None:
        with self._lock:
            self._left[session] = left
            self._left.move_to_end(session)
            while len(self._left) > self.max_sessions:
                self._left.popitem(last=False)

    def __len__(self) -> int:
        return len(self._left)
