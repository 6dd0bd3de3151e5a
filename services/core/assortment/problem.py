"""The constrained MNL assortment problem every solver takes, and the answer every solver gives.

Products i have revenue r_i and attraction v_i > 0; the no-purchase option has v0 > 0. Offering S, the
shopper picks i in S with probability v_i / (v0 + sum_{j in S} v_j), so the expected revenue is
R(S) = sum_{i in S} r_i v_i / (v0 + sum_{i in S} v_i). We maximise R(S) subject to

- cardinality: |S| <= k;
- groups (brands): each product has a group code g_i; at most cap_g products of group g;
- must-include: every index in `include` is in S (must-exclude is done earlier, by dropping candidates);
- diversity: S touches at least `min_groups` distinct groups;
- general rows (HiGHS / Pyomo / brute force only): lo <= sum_j coef_j x_{idx_j} <= hi, x the 0/1 offer vector.

Pure domain code: numpy only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

OPTIMAL = "optimal"
TIME_LIMIT = "time_limit"  # the best feasible answer found before the time limit


class MnlSolverError(RuntimeError):
    """A solver did not return a proven optimum (or its answer does not check out)."""


class InfeasibleError(ValueError):
    """No assortment satisfies the constraints (the request mapping relaxes them before solving)."""


@dataclass(frozen=True)
class Row:
    """A general linear side constraint on the 0/1 offer vector: lo <= sum coef * x[idx] <= hi."""

    idx: np.ndarray
    coef: np.ndarray
    lo: float = -math.inf
    hi: float = math.inf


@dataclass(frozen=True)
class Problem:
    r: np.ndarray
    v: np.ndarray
    v0: float
    k: int
    group: np.ndarray | None = None  # int group code per product, 0..G-1 (None: no group constraints)
    cap: np.ndarray | None = None  # per-group cap, length G (None: no caps)
    include: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    min_groups: int = 0
    rows: tuple[Row, ...] = ()

    def __post_init__(self) -> None:
        r = np.asarray(self.r, dtype=float)
        v = np.asarray(self.v, dtype=float)
        object.__setattr__(self, "r", r)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "include", np.unique(np.asarray(self.include, dtype=int)))
        if r.ndim != 1 or r.shape != v.shape:
            raise ValueError(f"r and v must be 1-D arrays of equal length, got {r.shape} and {v.shape}")
        if not (self.v0 > 0 and math.isfinite(self.v0)):
            raise ValueError(f"v0 must be positive and finite, got {self.v0}")
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        if r.size and (not np.all(np.isfinite(r)) or not np.all(np.isfinite(v)) or np.any(v <= 0)):
            raise ValueError("r must be finite and v finite and positive")
        if self.include.size and (self.include[0] < 0 or self.include[-1] >= r.size):
            raise ValueError("include indices out of range")
        if (self.cap is not None or self.min_groups) and self.group is None:
            raise ValueError("caps and min_groups need a group code per product")
        if self.group is not None:
            g = np.asarray(self.group, dtype=np.int64)
            object.__setattr__(self, "group", g)
            if g.shape != r.shape or (g.size and g.min() < 0):
                raise ValueError("group must hold a non-negative int code per product")
            if self.cap is not None:
                cap = np.asarray(self.cap, dtype=np.int64)
                object.__setattr__(self, "cap", cap)
                if g.size and cap.size <= g.max():
                    raise ValueError("cap needs an entry for every group code")
                if np.any(cap < 0):
                    raise ValueError("caps must be >= 0")

    @property
    def n(self) -> int:
        return int(self.r.size)

    @property
    def n_groups(self) -> int:
        if self.group is None or self.group.size == 0:
            return 0 if self.cap is None else int(self.cap.size)
        return max(int(self.group.max()) + 1, 0 if self.cap is None else int(self.cap.size))

    def group_caps(self) -> np.ndarray:
        """Cap per group (k where no cap is set)."""
        caps = np.full(self.n_groups, self.k, dtype=np.int64)
        if self.cap is not None:
            caps = np.minimum(caps, self.cap[: self.n_groups])
        return caps

    def is_feasible(self, chosen) -> bool:
        idx = np.asarray(sorted(int(i) for i in chosen), dtype=int)
        if idx.size > self.k or np.unique(idx).size != idx.size or not np.isin(self.include, idx).all():
            return False
        if self.group is not None:
            counts = np.bincount(self.group[idx], minlength=self.n_groups)
            if np.any(counts > self.group_caps()) or np.count_nonzero(counts) < self.min_groups:
                return False
        x = np.zeros(self.n)
        x[idx] = 1.0
        tol = 1e-9
        return all(row.lo - tol <= float(np.dot(row.coef, x[row.idx])) <= row.hi + tol for row in self.rows)


@dataclass(frozen=True)
class Assortment:
    """An offered set. `indices` point into the r/v arrays it was solved on (for `recommend`: into
    `candidate_idx`), sorted by choice probability, highest first (ties by index)."""

    indices: tuple[int, ...]
    expected_revenue: float
    choice_probabilities: tuple[float, ...]  # aligned with `indices`
    no_purchase_probability: float
    solver: str
    solve_ms: float
    status: str = OPTIMAL

    def __len__(self) -> int:
        return len(self.indices)

    def catalog_indices(self, candidate_idx: np.ndarray) -> list[int]:
        """Catalog row numbers of the chosen products, in assortment order."""
        return [int(candidate_idx[i]) for i in self.indices]


def revenue(r: np.ndarray, v: np.ndarray, v0: float, chosen) -> float:
    """R(S) for the index collection `chosen`."""
    idx = np.asarray(list(chosen), dtype=int)
    if idx.size == 0:
        return 0.0
    return float(np.dot(r[idx], v[idx]) / (v0 + v[idx].sum()))


def make_assortment(p: Problem, chosen, solver: str, t0: float, status: str = OPTIMAL) -> Assortment:
    idx = np.sort(np.asarray(chosen, dtype=int).ravel())
    denom = p.v0 + float(p.v[idx].sum())
    probs = p.v[idx] / denom
    order = np.argsort(-probs, kind="stable")  # stable: ties keep index order, so output is deterministic
    return Assortment(
        indices=tuple(int(i) for i in idx[order]),
        expected_revenue=float(np.dot(p.r[idx], probs)) if idx.size else 0.0,
        choice_probabilities=tuple(float(q) for q in probs[order]),
        no_purchase_probability=p.v0 / denom,
        solver=solver,
        solve_ms=(time.perf_counter() - t0) * 1e3,
        status=status,
    )


def check_includes(p: Problem) -> None:
    """Raise InfeasibleError when the pinned products alone break the cardinality or a group cap."""
    if p.include.size > p.k:
        raise InfeasibleError(f"{p.include.size} pinned products exceed k={p.k}")
    if p.group is not None and p.include.size:
        counts = np.bincount(p.group[p.include], minlength=p.n_groups)
        if np.any(counts > p.group_caps()):
            raise InfeasibleError("pinned products exceed a group cap")


def max_groups_reachable(p: Problem) -> int:
    """The most distinct groups any feasible assortment can touch (for min_groups feasibility)."""
    if p.group is None or p.n == 0:
        return 0
    covered = np.zeros(p.n_groups, dtype=bool)
    covered[p.group[p.include]] = True
    present = np.zeros(p.n_groups, dtype=bool)
    present[p.group] = True
    open_groups = int(np.count_nonzero(present & ~covered & (p.group_caps() >= 1)))
    return int(covered.sum()) + min(p.k - int(p.include.size), open_groups)


def check_feasible(p: Problem) -> None:
    check_includes(p)
    if p.min_groups and max_groups_reachable(p) < p.min_groups:
        raise InfeasibleError(f"at most {max_groups_reachable(p)} distinct groups are reachable, "
                              f"{p.min_groups} required")
