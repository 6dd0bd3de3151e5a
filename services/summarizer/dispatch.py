"""Ordered concurrent dispatch of model calls (pure asyncio, no Kafka).

With a remote model a window takes about a second to summarise, so one replica must keep many windows in
flight to be bounded by the model server rather than by itself. Windows of different sessions run
concurrently, up to a global cap; the windows of one session run one after another in submission order,
so a session's summaries are still published in window order. A job submitted twice (same key and seq,
e.g. re-dispatched after recovery while still queued) runs once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("interarec.summarizer")


class OrderedDispatcher:
    def __init__(self, max_in_flight: int):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tails: dict[str, asyncio.Task] = {}
        self._known: set[tuple[str, int]] = set()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.failed = 0

    def pending(self, key: str, seq: int) -> bool:
        """Queued or running."""
        return (key, seq) in self._known

    def __len__(self) -> int:
        return len(self._known)

    def submit(self, key: str, seq: int, job: Callable[[], Awaitable[None]]) -> bool:
        """Schedule job after the key's earlier jobs; False when (key, seq) is already queued or running."""
        if (key, seq) in self._known:
            return False
        self._known.add((key, seq))
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(previous, job), name=f"window {key}#{seq}")
        self._tails[key] = task
        task.add_done_callback(lambda t: self._finished(key, seq, t))
        return True

    async def _run(self, previous: asyncio.Task | None, job: Callable[[], Awaitable[None]]) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own: a failed window does not block the next
        async with self._slots:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                await job()
            finally:
                self.in_flight -= 1

    def _finished(self, key: str, seq: int, task: asyncio.Task) -> None:
        self._known.discard((key, seq))
        if self._tails.get(key) is task:
            del self._tails[key]
        if not task.cancelled() and task.exception() is not None:
            self.failed += 1
            log.error("window job failed (it stays pending and is re-dispatched): %r", task.exception(),
                      extra={"session_id": key, "window_seq": seq})

    async def drain(self) -> None:
        """Wait until every submitted job has finished."""
        while self._tails:
            await asyncio.wait(list(self._tails.values()))
