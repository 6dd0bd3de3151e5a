"""Exact fast path: revenue-threshold (Dinkelbach) search on numpy arrays, with side constraints.

R(S) = N(S) / D(S) with N(S) = sum_S v_i r_i and D(S) = v0 + sum_S v_i. For a threshold z let
F(z) = max over feasible S of sum_S w_i(z), w_i(z) = v_i (r_i - z). Then N(S) - z D(S) = sum_S w_i - z v0,
and z* = max R(S) is the unique z with F(z) = z v0. Dinkelbach: z <- R(S(z)) with S(z) an exact maximiser
of F(z); z strictly increases over finitely many sets until F(z) = z v0, which is the optimum. So the
search is exact whenever the inner problem, max sum_S w_i over feasible S, is solved exactly:

- cardinality, per-group caps and pinned products: the feasible sets are the independent sets of a
  laminar matroid (caps nested in the total k) contracted by the pins, so greedy (best w first, take it
  if positive and its group and the total still have room) is exact.
- at least m distinct groups: within a group an optimal set takes a prefix of the group's items in w
  order, so "group g is touched" = "g's best item (its *red* item) is taken"; every other item is blue.
  Add k zero-weight dummies so independent sets become bases. Max-weight bases with exactly q red items
  are joined by single best swaps as q grows (Gabow & Tarjan 1984, matroids with one colour-count
  constraint), and the optimum is concave in q. Adding a red item of an untouched group only overfills the
  total, so any chosen blue item (or an empty slot, weight 0) can leave: the best swap pairs the best
  untouched group's red item with the cheapest blue item. Hence: greedy, then while fewer than m groups
  are touched, add the next-best red item and drop the next-cheapest blue item or empty slot.

`tests/unit/test_optimizer_exact.py` checks every case against brute force with hypothesis.
"""

from __future__ import annotations

import time

import numpy as np

from services.optimizer.problem import (
    OPTIMAL,
    TIME_LIMIT,
    Assortment,
    MnlSolverError,
    Problem,
    check_feasible,
    make_assortment,
)

MAX_THRESHOLD_ITERATIONS = 10_000  # observed: at most ~12 passes, up to 100,000 products


def _top_k_positive(score: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest strictly positive scores, ties broken by lowest index; sorted."""
    pos = np.flatnonzero(score > 0)
    if pos.size <= k:
        return pos
    if k == 0:
        return pos[:0]
    s = score[pos]
    kth = np.partition(s, s.size - k)[s.size - k]  # O(n) instead of a full sort: this is the hot loop
    above = pos[s > kth]
    ties = pos[s == kth][: k - above.size]  # pos is ascending, so lowest indices win ties
    return np.sort(np.concatenate([above, ties]))


class _Groups:
    """Per-solve constant data for the grouped inner problem."""

    def __init__(self, p: Problem, free: np.ndarray):
        self.group = p.group
        g = p.n_groups
        inc_counts = np.bincount(p.group[p.include], minlength=g) if p.include.size else np.zeros(g, np.int64)
        self.cap_left = p.group_caps() - inc_counts
        self.covered = inc_counts > 0
        self.k_left = p.k - int(p.include.size)
        self.need = max(0, p.min_groups - int(self.covered.sum()))
        # free products ordered by group (then index) so per-group maxima are one reduceat away
        order = free[np.argsort(p.group[free], kind="stable")]
        self.by_group = order
        gs = p.group[order]
        self.starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]]) if order.size else np.empty(0, int)
        self.start_group = gs[self.starts] if order.size else np.empty(0, int)
        # a group can supply a red item if it is untouched by pins and has room
        self.red_ok = ~self.covered[self.start_group] & (self.cap_left[self.start_group] >= 1)

    def greedy(self, w: np.ndarray) -> list[int]:
        """Laminar-matroid greedy over free products (w is -inf on pinned ones)."""
        pos = np.flatnonzero(w > 0)
        if self.k_left <= 0 or pos.size == 0:
            return []
        length = min(pos.size, 2 * self.k_left + 16)
        while True:
            if length < pos.size:
                top = pos[np.argpartition(-w[pos], length - 1)[:length]]
            else:
                top = pos
            top = top[np.lexsort((top, -w[top]))]  # best first, ties by index
            chosen: list[int] = []
            used: dict[int, int] = {}
            for i in top.tolist():
                g = int(self.group[i])
                if used.get(g, 0) < self.cap_left[g]:
                    used[g] = used.get(g, 0) + 1
                    chosen.append(i)
                    if len(chosen) == self.k_left:
                        return chosen
            if length >= pos.size:
                return chosen
            length = min(pos.size, length * 4)  # rare: caps rejected most of the prefix

    def diversify(self, w: np.ndarray, chosen: list[int]) -> list[int]:
        """Best swaps until `need` untouched groups are touched (see the module docstring)."""
        touched = self.covered.copy()
        by_group: dict[int, list[int]] = {}
        for i in chosen:
            g = int(self.group[i])
            touched[g] = True
            by_group.setdefault(g, []).append(i)
        missing = self.need - int(touched.sum() - self.covered.sum())
        if missing <= 0:
            return chosen
        # blue = every chosen item except the best of an otherwise untouched group
        blues = [i for g, items in by_group.items() for i in (items if self.covered[g] else items[1:])]
        slots = self.k_left - len(chosen)
        # red candidates: the best free item of each untouched group
        gmax = np.maximum.reduceat(w[self.by_group], self.starts) if self.starts.size else np.empty(0)
        ok = self.red_ok & ~touched[self.start_group]
        cand = np.flatnonzero(ok)
        if cand.size < missing or slots + len(blues) < missing:
            raise MnlSolverError("min_groups unreachable (the request mapping should have relaxed it)")
        best = cand[np.lexsort((self.start_group[cand], -gmax[cand]))][:missing]
        reds = []
        for b in best.tolist():
            lo = self.starts[b]
            hi = self.starts[b + 1] if b + 1 < self.starts.size else self.by_group.size
            reds.append(int(self.by_group[lo + int(np.argmax(w[self.by_group[lo:hi]]))]))
        # cheapest removals: empty slots (weight 0, blues are > 0) first, then blues, worst first
        drop = sorted(blues, key=lambda i: (w[i], -i))[: max(0, missing - slots)]
        keep = set(chosen) - set(drop)
        return sorted(keep | set(reds))


def solve_threshold(p: Problem, time_limit_s: float | None = None) -> Assortment:
    """Exact optimum of the constrained MNL problem (no general rows) by threshold search.

    With a time limit, returns the best assortment found so far (status "time_limit") once it passes;
    every iterate is feasible, so the fallback is always a valid answer.
    """
    t0 = time.perf_counter()
    if p.rows:
        raise ValueError("the threshold path does not take general rows; use the HiGHS path")
    check_feasible(p)
    r, v, v0 = p.r, p.v, p.v0
    include = p.include
    free = np.setdiff1d(np.arange(p.n), include, assume_unique=True)
    grouped = p.group is not None and (p.cap is not None or p.min_groups > 0)
    groups = _Groups(p, free) if grouped else None
    k_left = p.k - int(include.size)
    pinned = np.zeros(p.n, dtype=bool)
    pinned[include] = True
    deadline = None if time_limit_s is None else t0 + time_limit_s

    best = include
    z = 0.0  # any start at or below the optimum works; every iterate after the first improves on it
    first = True
    status = OPTIMAL
    for _ in range(MAX_THRESHOLD_ITERATIONS):
        w = v * (r - z)
        if include.size:
            w[pinned] = -np.inf
        if groups is None:
            extra = _top_k_positive(w, k_left)
        else:
            chosen = groups.greedy(w)
            if groups.need:
                chosen = groups.diversify(w, chosen)
            extra = np.asarray(chosen, dtype=int)
        chosen = np.concatenate([include, extra]) if include.size else extra
        if chosen.size == 0:
            break
        z_new = float(np.dot(r[chosen], v[chosen]) / (v0 + v[chosen].sum()))
        # relative tolerance: stop once the value stops increasing beyond float noise (the first iterate is
        # always kept: pins or diversity may force a set whose value is not above the start)
        if not first and z_new <= z + 1e-12 * max(1.0, abs(z)):
            break
        first = False
        best, z = chosen, z_new
        if deadline is not None and time.perf_counter() > deadline:
            status = TIME_LIMIT
            break
    else:  # unreachable in exact arithmetic (z strictly increases over finitely many sets)
        raise MnlSolverError(f"threshold search did not converge in {MAX_THRESHOLD_ITERATIONS} iterations")
    return make_assortment(p, best, "threshold", t0, status)


def threshold_search(r: np.ndarray, v: np.ndarray, v0: float, k: int) -> Assortment:
    """Cardinality only (kept for callers of the old API)."""
    return solve_threshold(Problem(r=r, v=v, v0=v0, k=k))
