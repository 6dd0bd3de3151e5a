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

from services.core.assortment.problem import (
    OPTIMAL,
    TIME_LIMIT,
    Assortment,
    MnlSolverError,
    Problem,
    check_feasible,
    make_assortment,
)

SMALL = 64  # pool size below which the inner steps run in plain Python
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


def _run_starts(sorted_codes: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    if not sorted_codes.size:
        return np.empty(0, dtype=np.int64)
    change = np.empty(sorted_codes.size, dtype=bool)
    change[0] = True
    np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=change[1:])
    return np.flatnonzero(change)


def _group_order(items: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`items` ordered by group (ascending index within a group) and where each group's run starts."""
    codes = group[items]
    if codes.size and codes.max() < 2**15:
        codes = codes.astype(np.int16)  # a stable sort of 16-bit ints is a radix sort: O(n)
    order = items[np.argsort(codes, kind="stable")]
    gs = group[order]
    starts = _run_starts(gs)
    return order, starts


class _Groups:
    """The grouped inner problem (caps, pins, diversity) at one threshold after another.

    `pool` holds the free products with r_i > z: only they can have a positive weight, and z only grows
    during the search, so the pool shrinks to the few products that still matter. The search starts at the
    cardinality-only optimum (an upper bound, where the pool is smallest): its answer is feasible, so the
    second threshold is a lower bound and Dinkelbach proceeds from there as usual.
    """

    def __init__(self, p: Problem, free: np.ndarray):
        self.group = p.group
        self.r = p.r
        self.v = p.v
        g = p.n_groups
        inc_counts = np.bincount(p.group[p.include], minlength=g) if p.include.size else np.zeros(g, np.int64)
        self.cap_left = p.group_caps() - inc_counts
        self.covered = inc_counts > 0
        self.k_left = p.k - int(p.include.size)
        self.need = max(0, p.min_groups - int(self.covered.sum()))
        self.red_ok = ~self.covered & (self.cap_left >= 1)  # groups that can still supply a red item
        self.free = free
        self.pool = free
        self.pool_z = -np.inf
        self.free_order: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def at(self, z: float) -> None:
        """Make `pool` the free products with r_i > z (shrinking it when z grew, as it does after the start)."""
        base = self.pool if z >= self.pool_z else self.free
        self.pool = base[self.r[base] > z]
        self.pool_z = z

    def weights(self, items: np.ndarray, z: float) -> np.ndarray:
        return self.v[items] * (self.r[items] - z)

    def greedy(self, z: float) -> list[int]:
        """Laminar-matroid greedy over free products: best first, taken while its group and the total
        have room, only positive weights (exactly the pool's)."""
        pos = self.pool
        if self.k_left <= 0 or pos.size == 0:
            return []
        wpos = self.weights(pos, z)
        if pos.size <= SMALL:  # plain Python beats numpy's per-call overhead on a few dozen items
            used: dict[int, int] = {}
            out = []
            for _, i, g in sorted(zip((-wpos).tolist(), pos.tolist(), self.group[pos].tolist(), strict=True)):
                if used.get(g, 0) < self.cap_left[g]:
                    used[g] = used.get(g, 0) + 1
                    out.append(i)
                    if len(out) == self.k_left:
                        break
            return out
        length = min(pos.size, 2 * self.k_left + 16)
        while True:
            if length < pos.size:
                sel = np.argpartition(-wpos, length - 1)[:length]
                top, wtop = pos[sel], wpos[sel]
            else:
                top, wtop = pos, wpos
            top = top[np.lexsort((top, -wtop))]  # best first, ties by index
            # greedy in one pass: an item passes its group's cap iff its rank within the group (best
            # first) is below the cap; greedy then takes the first k_left items that pass
            gs = self.group[top]
            by_group = np.argsort(gs, kind="stable")  # keeps best-first order inside each group
            sorted_gs = gs[by_group]
            run_start = _run_starts(sorted_gs)
            run_len = np.diff(np.append(run_start, top.size))
            rank = np.empty(top.size, dtype=np.int64)
            rank[by_group] = np.arange(top.size) - np.repeat(run_start, run_len)
            taken = top[rank < self.cap_left[gs]]
            if taken.size >= self.k_left:
                return taken[: self.k_left].tolist()
            if length >= pos.size:
                return taken.tolist()
            length = min(pos.size, length * 4)  # rare: caps rejected most of the prefix

    def _reds(self, items: np.ndarray | None, z: float, touched: np.ndarray, missing: int,
              positive_only: bool) -> list[int] | None:
        """The best item of each of the `missing` best untouched groups among `items` (None: every free
        product, whose group order is computed once per solve). None when too few groups qualify."""
        if items is None:
            if self.free_order is None:
                order, starts = _group_order(self.free, self.group)
                self.free_order = (order, starts, self.v[order], self.r[order])
            order, starts, v_order, r_order = self.free_order
            w_order = v_order * (r_order - z)
        elif items.size <= SMALL:
            return self._reds_small(items, z, touched, missing)
        else:
            order, starts = _group_order(items, self.group)
            w_order = self.weights(order, z)
        if not starts.size:
            return None
        gmax = np.maximum.reduceat(w_order, starts)
        start_group = self.group[order[starts]]
        ok = self.red_ok[start_group] & ~touched[start_group]
        if positive_only:
            ok &= gmax > 0
        cand = np.flatnonzero(ok)
        if cand.size < missing:
            return None
        best = cand[np.lexsort((start_group[cand], -gmax[cand]))][:missing]
        reds = []
        for b in best.tolist():
            lo = starts[b]
            hi = starts[b + 1] if b + 1 < starts.size else order.size
            reds.append(int(order[lo + int(np.argmax(w_order[lo:hi]))]))  # first max = lowest index
        return reds

    def _reds_small(self, items: np.ndarray, z: float, touched: np.ndarray, missing: int) -> list[int] | None:
        """_reds on a few pool items (all of positive weight), in plain Python."""
        best: dict[int, tuple[float, int]] = {}
        for w, i, g in zip(self.weights(items, z).tolist(), items.tolist(), self.group[items].tolist(), strict=True):
            if self.red_ok[g] and not touched[g] and (g not in best or (-w, i) < best[g]):
                best[g] = (-w, i)
        if len(best) < missing:
            return None
        return [i for _, i, _ in sorted((nw, i, g) for g, (nw, i) in best.items())[:missing]]

    def diversify(self, z: float, chosen: list[int]) -> list[int]:
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
        # positive red items live in the pool; only when too few groups have one, look at every product
        reds = self._reds(self.pool, z, touched, missing, positive_only=True)
        if reds is None:
            reds = self._reds(None, z, touched, missing, positive_only=False)
        if reds is None or slots + len(blues) < missing:
            raise MnlSolverError("min_groups unreachable (the request mapping should have relaxed it)")
        # cheapest removals: empty slots (weight 0, blues are > 0) first, then blues, worst first
        drop = sorted(blues, key=lambda i: (float(self.weights(np.array([i]), z)[0]), -i))[: max(0, missing - slots)]
        keep = set(chosen) - set(drop)
        return sorted(keep | set(reds))


def _plain_value(r: np.ndarray, v: np.ndarray, v0: float, k: int) -> float:
    """max R(S) s.t. |S| <= k (cardinality only), by the same search."""
    z = 0.0
    while True:
        chosen = _top_k_positive(v * (r - z), k)
        if chosen.size == 0:
            return z
        z_new = float(np.dot(r[chosen], v[chosen]) / (v0 + v[chosen].sum()))
        if z_new <= z + 1e-12 * max(1.0, abs(z)):
            return z
        z = z_new


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
    free = np.setdiff1d(np.arange(p.n), include, assume_unique=True) if include.size else np.arange(p.n)
    grouped = p.group is not None and (p.cap is not None or p.min_groups > 0)
    groups = _Groups(p, free) if grouped else None
    k_left = p.k - int(include.size)
    pinned = np.zeros(p.n, dtype=bool)
    pinned[include] = True
    deadline = None if time_limit_s is None else t0 + time_limit_s

    best = include
    # Any start works: the first iterate is feasible, so its value is at most the optimum, and from there
    # every iterate improves. Without groups start at 0; with them at the cardinality-only optimum (see _Groups).
    z = 0.0 if groups is None else _plain_value(r, v, v0, p.k)
    first = True
    status = OPTIMAL
    for _ in range(MAX_THRESHOLD_ITERATIONS):
        if groups is None:
            w = v * (r - z)
            if include.size:
                w[pinned] = -np.inf
            extra = _top_k_positive(w, k_left)
        else:  # weights on the pool only (pins are not in it)
            groups.at(z)
            chosen = groups.greedy(z)
            if groups.need:
                chosen = groups.diversify(z, chosen)
            extra = np.asarray(chosen, dtype=int)
        chosen = np.concatenate([include, extra]) if include.size else extra
        if chosen.size == 0 and not first:
            break
        # (an empty first set, possible when starting above the optimum, is worth 0: restart from there)
        z_new = float(np.dot(r[chosen], v[chosen]) / (v0 + v[chosen].sum())) if chosen.size else 0.0
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
