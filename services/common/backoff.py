"""How long to wait before the next attempt (pure, no I/O): one capped exponential backoff with jitter that
honours a server's Retry-After, used by every retry loop (Kafka consumer retries, model calls, frame uploads,
the model path's summary sends). Which failures are worth retrying stays with each caller (retry.py for the
stream workers)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# none: the step itself. equal: half the step fixed, half random (every wait is at least half a step).
# spread: uniformly 0.5x-1.5x the step (the mean is the step). Jitter keeps replicas that failed together
# from retrying in lockstep.
Jitter = Literal["none", "equal", "spread"]


@dataclass(frozen=True)
class Backoff:
    first_s: float
    max_s: float = math.inf
    jitter: Jitter = "none"

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s:
            raise ValueError(f"need 0 < first_s <= max_s, got {self.first_s} and {self.max_s}")

    def step_s(self, attempt: int) -> float:
        """The un-jittered wait after failed attempt `attempt` (1-based): first_s, doubling, capped at max_s."""
        return min(self.max_s, self.first_s * 2 ** max(0, attempt - 1))

    def delay_s(self, attempt: int, *, retry_after_s: float | None = None,
                rand: Callable[[], float] = random.random) -> float:
        """Wait after failed attempt `attempt` (1-based). A server's Retry-After is a floor: retrying sooner
        than it asked only earns another refusal."""
        step = self.step_s(attempt)
        if self.jitter == "equal":
            delay = step / 2 + rand() * step / 2
        elif self.jitter == "spread":
            delay = step * (0.5 + rand())
        else:
            delay = step
        return max(delay, retry_after_s) if retry_after_s is not None else delay


def parse_retry_after(raw: str | None) -> float | None:
    """Seconds from a Retry-After header value; None when absent or not a number of seconds (an HTTP date is
    not honoured: our servers send seconds)."""
    try:
        value = float((raw or "").strip())
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None
