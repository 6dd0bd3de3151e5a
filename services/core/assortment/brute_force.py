"""Enumeration of every feasible assortment: the ground truth for tests on small instances."""

from __future__ import annotations

import itertools
import time

from services.core.assortment.problem import Assortment, InfeasibleError, Problem, make_assortment, revenue

MAX_N = 14


def brute_force(p: Problem) -> Assortment:
    """The best feasible assortment by enumeration (n <= 14). Raises InfeasibleError if none exists."""
    t0 = time.perf_counter()
    if p.n > MAX_N:
        raise ValueError(f"brute_force is for n <= {MAX_N}, got n={p.n}")
    best: tuple[int, ...] | None = None
    best_value = -float("inf")
    for size in range(0, min(p.k, p.n) + 1):
        for subset in itertools.combinations(range(p.n), size):
            if not p.is_feasible(subset):
                continue
            value = revenue(p.r, p.v, p.v0, subset)
            if value > best_value + 1e-15:
                best, best_value = subset, value
    if best is None:
        raise InfeasibleError("no feasible assortment")
    return make_assortment(p, best, "brute-force", t0)
