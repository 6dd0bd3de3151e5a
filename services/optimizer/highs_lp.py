"""General path: the constrained MNL problem as an LP or MILP handed to HiGHS (highspy) as arrays.

Charnes-Cooper / Davis-Gallego-Topaloglu variables (weights normalised so v0 = 1, a_i = v_i / v0):
w0 = no-purchase probability, w_i = purchase probability of i; x_i = w_i / (a_i w0) is the offer indicator.

    max  sum_i r_i w_i
    s.t. w0 + sum_i w_i = 1
         w_i <= a_i w0                          (offer at most once; = for pinned products)
         sum_i w_i / a_i <= k w0                (cardinality)
         sum_{i in g} w_i / a_i <= cap_g w0     (group caps)

The matrix of these constraints in x is laminar, hence totally unimodular, so the LP has an integral
optimal vertex (Davis, Gallego & Topaloglu 2014) and is solved as an LP. Diversity breaks that: binary y_g
says group g is touched, u_g = y_g w0 (exact McCormick bounds since w0 is in [0, 1]), u_g <= sum_{i in g}
w_i / a_i and sum_g y_g >= m. With y fixed the rest is laminar again, so only the groups branch, not the
products. General rows on x need product binaries: w_i <= a_i x_i and w_i >= a_i (w0 - 1 + x_i).

Every solve has a time limit. When HiGHS stops on it, the best feasible assortment it found is returned
with status "time_limit"; without one, the threshold path's answer is (when it satisfies the rows).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from services.optimizer.problem import (
    OPTIMAL,
    TIME_LIMIT,
    Assortment,
    InfeasibleError,
    MnlSolverError,
    Problem,
    check_feasible,
    make_assortment,
    revenue,
)

# The w0 column is dense (it appears in every availability row): presolve + dual simplex was measured
# 4-40x slower on this LP than primal simplex without presolve.
HIGHS_LP_OPTIONS: dict[str, object] = {"presolve": "off", "solver": "simplex", "simplex_strategy": 4}
# exact: no relative gap; tight integrality so the big-M rows of general constraints cannot leak revenue
HIGHS_MIP_OPTIONS: dict[str, object] = {"mip_rel_gap": 1e-9, "mip_abs_gap": 1e-12, "mip_feasibility_tolerance": 1e-9}
RECOVERY_TOL = 0.5  # a vertex has x_i in {0, 1}; anything above half-way counts as offered
DEFAULT_TIME_LIMIT_S = 1.0


@dataclass
class Model:
    """A linear model in arrays: columns with bounds, cost and integrality; rows in coordinate form."""

    col_lo: list[np.ndarray] = field(default_factory=list)
    col_hi: list[np.ndarray] = field(default_factory=list)
    cost: list[np.ndarray] = field(default_factory=list)
    integer: list[np.ndarray] = field(default_factory=list)
    row_lo: list[np.ndarray] = field(default_factory=list)
    row_hi: list[np.ndarray] = field(default_factory=list)
    coo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # (row, col, value)
    n_col: int = 0
    n_row: int = 0

    def cols(self, count: int, lo, hi, cost=0.0, integer: bool = False) -> np.ndarray:
        self.col_lo.append(np.broadcast_to(np.asarray(lo, float), (count,)))
        self.col_hi.append(np.broadcast_to(np.asarray(hi, float), (count,)))
        self.cost.append(np.broadcast_to(np.asarray(cost, float), (count,)))
        self.integer.append(np.full(count, integer))
        start = self.n_col
        self.n_col += count
        return np.arange(start, start + count)

    def rows(self, count: int, lo, hi, row: np.ndarray, col: np.ndarray, val: np.ndarray) -> None:
        """`count` rows; entries refer to rows 0..count-1 of this block."""
        self.row_lo.append(np.broadcast_to(np.asarray(lo, float), (count,)))
        self.row_hi.append(np.broadcast_to(np.asarray(hi, float), (count,)))
        self.coo.append((np.asarray(row) + self.n_row, np.asarray(col), np.asarray(val, float)))
        self.n_row += count

    def is_mip(self) -> bool:
        return bool(any(block.any() for block in self.integer))

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
        if self.is_mip():
            ints = np.concatenate(self.integer)
            lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                               for b in ints]
        return lp


@dataclass
class Columns:
    w: np.ndarray  # purchase probabilities (w0 is column 0)
    y: np.ndarray | None = None  # group-touched binaries
    x: np.ndarray | None = None  # offer binaries (only with general rows)


def w0_bounds(p: Problem) -> tuple[float, float]:
    """Bounds on the no-purchase probability over nonempty feasible sets: at most k products offered,
    and at least one (diversity asks for one or more)."""
    a = p.v / p.v0
    k = min(p.k, p.n)
    top = np.partition(a, p.n - k)[p.n - k:].sum() if k else 0.0
    return 1.0 / (1.0 + top), 1.0 / (1.0 + float(a.min()))


def build(p: Problem) -> tuple[Model, Columns]:
    """The model and where its columns are."""
    n, a = p.n, p.v / p.v0
    m = Model()
    w0 = int(m.cols(1, 0.0, 1.0)[0])
    w = m.cols(n, 0.0, np.minimum(a, 1.0), cost=p.r)
    cols = Columns(w)
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
    if p.min_groups:
        # McCormick on u_g = y_g w0 with w0 in [lo, hi]: exact for binary y, and the tighter [lo, hi] the
        # stronger the relaxation (with [0, 1] it ignores diversity and the MILP branches for seconds)
        lo, hi = w0_bounds(p)
        m.col_lo[0], m.col_hi[0] = np.array([lo]), np.array([hi])
        g = p.n_groups
        y = cols.y = m.cols(g, 0.0, 1.0, integer=True)
        u = m.cols(g, 0.0, hi)
        ag = np.arange(g)
        ones = np.ones(g)
        w0s = np.full(g, w0)
        m.rows(g, -math.inf, 0.0, np.r_[ag, ag], np.r_[u, y], np.r_[ones, -hi * ones])  # u <= hi y
        m.rows(g, 0.0, math.inf, np.r_[ag, ag], np.r_[u, y], np.r_[ones, -lo * ones])  # u >= lo y
        m.rows(g, -lo, math.inf, np.r_[ag, ag, ag], np.r_[w0s, u, y], np.r_[ones, -ones, -lo * ones])
        m.rows(g, -math.inf, hi, np.r_[ag, ag, ag], np.r_[w0s, u, y], np.r_[ones, -ones, hi * ones])
        # touched: u_g <= sum_{i in g} w_i / a_i  (i.e. y_g <= sum_{i in g} x_i)
        m.rows(g, -math.inf, 0.0, np.r_[ag, p.group], np.r_[u, w], np.r_[ones, -1.0 / a])
        m.rows(1, p.min_groups, math.inf, np.zeros(g, int), y, ones)
    if p.rows:
        x = cols.x = m.cols(n, 0.0, 1.0, integer=True)
        x_lo = np.zeros(n)
        x_lo[p.include] = 1.0
        m.col_lo[-1] = x_lo
        # w_i - a_i x_i <= 0 ; w_i - a_i w0 - a_i x_i >= -a_i
        m.rows(n, -math.inf, 0.0, np.r_[ar, ar], np.r_[w, x], np.r_[np.ones(n), -a])
        m.rows(n, -a, math.inf, np.r_[ar, ar, ar], np.r_[w, np.full(n, w0), x], np.r_[np.ones(n), -a, -a])
        for row in p.rows:
            m.rows(1, row.lo, row.hi, np.zeros(len(row.idx), int), x[np.asarray(row.idx, int)], row.coef)
    return m, cols


def _recover(p: Problem, col_value: np.ndarray, cols: Columns) -> np.ndarray:
    if cols.x is not None:  # binaries decide directly
        return np.flatnonzero(col_value[cols.x] > RECOVERY_TOL)
    w0 = float(col_value[0])
    if w0 <= 0:
        raise MnlSolverError(f"HiGHS returned w0={w0}; expected a positive no-purchase mass")
    ratio = col_value[cols.w] / ((p.v / p.v0) * w0)
    return np.flatnonzero(ratio > RECOVERY_TOL)


def _vertex_with_groups_fixed(h, cols: Columns, values: np.ndarray) -> np.ndarray:
    """A MIP answer need not be a vertex (ties); with the group binaries fixed the rest is totally
    unimodular, so re-solving it as an LP by simplex gives an integral vertex of equal value."""
    import highspy

    y = cols.y
    fixed = np.round(values[y])
    h.changeColsIntegrality(len(y), y.astype(np.int32), np.full(len(y), highspy.HighsVarType.kContinuous))
    h.changeColsBounds(len(y), y.astype(np.int32), fixed, fixed)
    for key, value in HIGHS_LP_OPTIONS.items():
        h.setOptionValue(key, value)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise MnlSolverError("re-solving with the group binaries fixed did not reach an optimum")
    return np.asarray(h.getSolution().col_value)


def solve_highs(p: Problem, time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
                stats: dict[str, float] | None = None) -> Assortment:
    """Solve with HiGHS from arrays. Raises InfeasibleError, or MnlSolverError when no answer checks out."""
    import highspy

    t0 = time.perf_counter()
    check_feasible(p)
    if p.n == 0 or p.k == 0:
        return make_assortment(p, [], "highs-lp", t0)
    model, cols = build(p)
    mip = model.is_mip()
    name = "highs-milp" if mip else "highs-lp"
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for key, value in (HIGHS_MIP_OPTIONS if mip else HIGHS_LP_OPTIONS).items():
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
    has_solution = h.getInfo().primal_solution_status == 2  # 2 = feasible
    if status == highspy.HighsModelStatus.kOptimal and has_solution:
        values = np.asarray(h.getSolution().col_value)
        chosen = _recover(p, values, cols)
        objective = float(np.dot(p.r, values[cols.w]))
        got = revenue(p.r, p.v, p.v0, chosen)
        if cols.y is not None and cols.x is None and abs(got - objective) > 1e-6 * max(1.0, abs(objective)):
            values = _vertex_with_groups_fixed(h, cols, values)
            chosen = _recover(p, values, cols)
            got = revenue(p.r, p.v, p.v0, chosen)
        # with offer binaries the set is read off x (w then carries the MIP tolerances of the big-M rows)
        tol = 1e-3 if cols.x is not None else 1e-6
        if not p.is_feasible(chosen) or abs(got - objective) > tol * max(1.0, abs(objective)):
            raise MnlSolverError(f"HiGHS solution is not integral: value {objective:.9g}, recovered {got:.9g}")
        return make_assortment(p, chosen, name, t0, OPTIMAL)
    if status == highspy.HighsModelStatus.kInfeasible:
        if p.rows:  # the structural checks above do not cover general rows
            raise InfeasibleError("no assortment satisfies the general rows")
        raise MnlSolverError("HiGHS reports the model infeasible although the feasibility checks passed")
    if status == highspy.HighsModelStatus.kTimeLimit:
        options = []
        if has_solution and mip:
            chosen = _recover(p, np.asarray(h.getSolution().col_value), cols)
            if p.is_feasible(chosen):
                options.append((revenue(p.r, p.v, p.v0, chosen), name, chosen))
        from services.optimizer.threshold import solve_threshold  # exact for everything but general rows

        fallback = solve_threshold(Problem(p.r, p.v, p.v0, p.k, p.group, p.cap, p.include, p.min_groups))
        if p.is_feasible(fallback.indices):
            options.append((fallback.expected_revenue, f"{name}+threshold", fallback.indices))
        if options:
            _, label, chosen = max(options, key=lambda o: o[0])
            return make_assortment(p, chosen, label, t0, TIME_LIMIT)
    raise MnlSolverError(f"HiGHS stopped with {h.modelStatusToString(status)} and no usable answer")

