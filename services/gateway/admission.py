"""Admission to the CPU-bound part of a frame (validation): a bound on concurrent decodes that never waits,
so a request either gets a slot or a 429 instead of queueing without bound."""

from __future__ import annotations


class DecodeSlots:
    def __init__(self, limit: int):
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1
