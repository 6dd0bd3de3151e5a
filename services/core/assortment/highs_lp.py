"""The TU case of the general path: cardinality, group caps and pins as an LP handed to HiGHS (highspy)
as arrays. Side constraints that break total unimodularity go to highs_milp.py.

Charnes-Cooper / Davis-Gallego-Topaloglu variables (weights normalised so v0 = 1, a_i = v_i / v0):
w0 = no-purchase probability, w_i = purchase probability of i; x_i = w_i / (a_i w0) is the offer indicator.

    max  sum_i r_i w_i
    s.t. w0 + sum_i w_i = 1
         w_i <= a_i w0                          (offer at most once; = for pinned products)
         sum_i w_i / a_i <= k w0                (cardinality)
         sum_{i in g} w_i / a_i <= cap_g w0     (group caps)

The matrix of these constraints in x is laminar, hence totally unimodular, so the LP has an integral
optimal vertex (Davis, Gallego & Topaloglu 2014) and is solved as an LP. The Pyomo reference (pyomo_ref.py)
states the same model, with the MILP extensions for diversity and general rows.

Every solve has a time limit. When HiGHS stops on it, the threshold path's answer is returned with status
"time_limit".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from services.core.assortment.highs_milp import solve_milp
from services.core.assortment.problem import (
    OPTIMAL,
    TIME_LIMIT,
    Assortment,
    MnlSolverError,
    Problem,
    check_feasible,
    make_assortment,
    revenue,
)

# The w0 column is dense (it appears in every availability row): presolve + dual simplex was measured
# 4-40x slower on this LP than primal simplex without presolve.
HIGHS_LP_OPTIONS: dict[str, object] = {"presolve": "off", "solver": "simplex", "simplex_strategy": 4}
RECOVERY_TOL = 0.5  # a vertex has x_i in {0, 1}; anything above half-way counts as offered
DEFAULT_TIME_LIMIT_S = 1.0


@dataclass
class Model:
    """A linear model in arrays: columns with bounds and cost; rows in coordinate form."""

    col_lo: list[np.ndarray] = field(default_factory=list)
    col_hi: list[np.ndarray] = field(default_factory=list)
    cost: list[np.ndarray] = field(default_factory=list)
    row_lo: list[np.ndarray] = field(default_factory=list)
    row_hi: list[np.ndarray] = field(default_factory=list)
    coo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # (row, col, value)
    n_col: int = 0
    n_row: int = 0

    def cols(self, count: int, lo, hi, cost=0.0) -> np.ndarray:
        self.col_lo.append(np.broadcast_to(np.asarray(lo, float), (count,)))
        self.col_hi.append(np.broadcast_to(np.asarray(hi, float), (count,)))
        self.cost.append(np.broadcast_to(np.asarray(cost, float), (count,)))
        start = self.n_col
        self.n_col += count
        return np.arange(start, start + count)

    def rows(self, count: int, lo, hi, row: np.ndarray, col: np.ndarray, val: np.ndarray) -> None:
        """`count` rows; entries refer to rows 0..count-1 of this block."""
        self.row_lo.append(np.broadcast_to(np.asarray(lo, float), (count,)))
        self.row_hi.append(np.broadcast_to(np.asarray(hi, float), (count,)))
        self.coo.append((np.asarray(row) + self.n_row, np.asarray(col), np.asarray(val, float)))
        self.n_row += count

    def to_highs(self):
        import highspy

        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_col, self.n_row
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.col_lo)
        lp.col_upper_ = np.concatenate(self.col_hi)
        lp.row_lower_ = np.concatenate(self.row_lo) if self.row_lo else np.empty(0)
        lp.row_upper_ = np.concatenate(self.row_hi) if self.row_hi else np.empty(0)
        lp.sense_ = highspy.ObjSense.kMaximize
        row = np.concatenate([c[0] for c in self.coo])
        col = np.concatenate([c[1] for c in self.coo])
        val = np.concatenate([c[2] for c in self.coo])
        order = np.lexsort((row, col))  # column-wise (CSC)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.searchsorted(col[order], np.arange(self.n_col + 1)).astype(np.int32)
        lp.a_matrix_.index_ = row[order].astype(np.int32)
        lp.a_matrix_.value_ = val[order]
        return lp


def build(p: Problem) -> tuple[Model, np.ndarray]:
    """The model and the columns of the w_i (w0 is column 0)."""
    n, a = p.n, p.v / p.v0
    m = Model()
    w0 = int(m.cols(1, 0.0, 1.0)[0])
    w = m.cols(n, 0.0, np.minimum(a, 1.0), cost=p.r)
    # normalisation
    m.rows(1, 1.0, 1.0, np.zeros(n + 1, int), np.r_[w0, w], np.ones(n + 1))
    # availability: w_i - a_i w0 <= 0 (= 0 when pinned)
    lo = np.full(n, -math.inf)
    lo[p.include] = 0.0
    ar = np.arange(n)
    m.rows(n, lo, 0.0, np.r_[ar, ar], np.r_[w, np.full(n, w0)], np.r_[np.ones(n), -a])
    # cardinality and group caps, in x = w / (a w0): sum w_i / a_i - cap w0 <= 0
    if p.k < n:
        m.rows(1, -math.inf, 0.0, np.zeros(n + 1, int), np.r_[w, w0], np.r_[1.0 / a, -p.k])
    if p.group is not None and p.cap is not None:
        caps = p.group_caps()
        sizes = np.bincount(p.group, minlength=p.n_groups)
        binding = np.flatnonzero(caps < sizes)
        if binding.size:
            rowof = np.full(p.n_groups, -1)
            rowof[binding] = np.arange(binding.size)
            items = np.flatnonzero(rowof[p.group] >= 0)
            m.rows(binding.size, -math.inf, 0.0, np.r_[rowof[p.group[items]], np.arange(binding.size)],
                   np.r_[w[items], np.full(binding.size, w0)], np.r_[1.0 / a[items], -caps[binding]])
    return m, w


def _recover(p: Problem, col_value: np.ndarray, w: np.ndarray) -> np.ndarray:
    w0 = float(col_value[0])
    if w0 <= 0:
        raise MnlSolverError(f"HiGHS returned w0={w0}; expected a positive no-purchase mass")
    ratio = col_value[w] / ((p.v / p.v0) * w0)
    return np.flatnonzero(ratio > RECOVERY_TOL)


def solve_highs(p: Problem, time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
                stats: dict[str, float] | None = None) -> Assortment:
    """Solve with HiGHS from arrays: the LP when it is totally unimodular, else highs_milp.solve_milp.
    Raises InfeasibleError, or MnlSolverError when no answer checks out."""
    import highspy

    if p.min_groups or p.rows:
        return solve_milp(p, time_limit_s, stats)
    t0 = time.perf_counter()
    check_feasible(p)
    if p.n == 0 or p.k == 0:
        return make_assortment(p, [], "highs-lp", t0)
    model, w = build(p)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for key, value in HIGHS_LP_OPTIONS.items():
        h.setOptionValue(key, value)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(model.to_highs())
    t_built = time.perf_counter()
    h.run()
    if stats is not None:
        stats["build_ms"] = (t_built - t0) * 1e3
        stats["highs_ms"] = (time.perf_counter() - t_built) * 1e3
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        values = np.asarray(h.getSolution().col_value)
        chosen = _recover(p, values, w)
        objective = float(np.dot(p.r, values[w]))
        got = revenue(p.r, p.v, p.v0, chosen)
        if not p.is_feasible(chosen) or abs(got - objective) > 1e-6 * max(1.0, abs(objective)):
            raise MnlSolverError(f"HiGHS solution is not integral: value {objective:.9g}, recovered {got:.9g}")
        return make_assortment(p, chosen, "highs-lp", t0, OPTIMAL)
    if status == highspy.HighsModelStatus.kTimeLimit:  # the threshold path is exact here, and has no LP to wait on
        from services.core.assortment.threshold import solve_threshold

        fallback = solve_threshold(p)
        return make_assortment(p, fallback.indices, "highs-lp+threshold", t0, TIME_LIMIT)
    raise MnlSolverError(f"HiGHS stopped with {h.modelStatusToString(status)} and no usable answer")
