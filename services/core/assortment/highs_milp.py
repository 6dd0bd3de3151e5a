"""General path for side constraints that are not totally unimodular (a minimum number of distinct groups,
general rows): Dinkelbach's threshold search, each step an exact 0-1 program handed to HiGHS as arrays.

As in threshold.py: with w_i(z) = v_i (r_i - z), a set S has R(S) >= z iff sum_S w_i(z) >= z v0, so
z <- R(S(z)), with S(z) an exact maximiser of sum_S w_i(z) over the feasible sets, rises strictly over
finitely many sets and stops at the optimum (Dinkelbach 1967). threshold.py solves the inner problem
combinatorially; here it is the 0-1 program

    max  sum_i w_i(z) x_i
    s.t. sum_i x_i <= k,  sum_{i in g} x_i <= cap_g,  x_i = 1 for pinned i,
         y_g <= sum_{i in g} x_i,  sum_g y_g >= m          (diversity, y binary)
         lo_j <= sum_i a_ji x_i <= hi_j                      (general rows)

Exact pruning keeps it small: products that are neither pinned nor in any general row are interchangeable
within their group (same rows, same counts), so for a given z an optimal x takes a prefix of each group's
free products in w order. At most min(cap_g, k) of them fit, and past the group's first product only
positive weights can help (a second product of a group touches no new group). So each step keeps, per group,
its best free product and the positive ones among its top min(cap_g, k), plus every pinned or row product.

The search starts from the threshold path's answer to the problem without the general rows when that answer
satisfies them (it is then optimal, and one step proves it), else from the first step's own answer.
Every HiGHS run gets what is left of the time limit; when it runs out, the best feasible set found so far is
returned with status "time_limit".
"""

from __future__ import annotations

import math
import time

import numpy as np

from services.core.assortment.problem import (
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

# exact: no relative gap, tight integrality (the inner program's value decides whether z improves)
HIGHS_MIP_OPTIONS: dict[str, object] = {"mip_rel_gap": 0.0, "mip_abs_gap": 1e-12,
                                        "mip_feasibility_tolerance": 1e-9}
MAX_STEPS = 1_000  # observed: at most a handful; z rises strictly over finitely many sets


def _kept(p: Problem, w: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Products an optimal inner answer can use at weights w (sorted indices); `fixed` marks pinned and
    row products, which are always kept."""
    free = np.flatnonzero(~fixed)
    if free.size == 0:
        return np.flatnonzero(fixed)
    group = p.group[free] if p.group is not None else np.zeros(free.size, dtype=np.int64)
    caps = np.minimum(p.group_caps(), p.k) if p.group is not None else np.array([p.k])
    order = np.lexsort((-w[free], group))  # by group, best weight first
    g_sorted = group[order]
    starts = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(order.size) - starts  # position within the group
    keep = (rank < caps[g_sorted]) & ((w[free][order] > 0) | (rank == 0))
    if not p.min_groups:  # no diversity: a non-positive weight never helps a free product
        keep &= w[free][order] > 0
    return np.union1d(free[order[keep]], np.flatnonzero(fixed))


def _inner_model(p: Problem, idx: np.ndarray, w: np.ndarray):
    """The inner 0-1 program over products idx (x columns), then one y column per group touched."""
    import highspy

    n = idx.size
    pos = np.full(p.n, -1)
    pos[idx] = np.arange(n)
    starts, cols, vals, lo, hi = [0], [], [], [], []

    def row(c: np.ndarray, a: np.ndarray, row_lo: float, row_hi: float) -> None:
        cols.append(c)
        vals.append(a)
        lo.append(row_lo)
        hi.append(row_hi)
        starts.append(starts[-1] + c.size)

    if p.k < n:
        row(np.arange(n), np.ones(n), -math.inf, p.k)
    n_y = 0
    if p.group is not None:
        g = p.group[idx]
        order = np.argsort(g, kind="stable")
        codes, first = np.unique(g[order], return_index=True)
        members = np.split(order, first[1:]) if n else []
        caps = p.group_caps()
        for code, mem in zip(codes, members, strict=True):
            if caps[code] < mem.size:
                row(mem, np.ones(mem.size), -math.inf, float(caps[code]))
        if p.min_groups:
            n_y = codes.size
            for j, mem in enumerate(members):  # y_j - sum_{i in g_j} x_i <= 0
                row(np.r_[n + j, mem], np.r_[1.0, -np.ones(mem.size)], -math.inf, 0.0)
            row(n + np.arange(n_y), np.ones(n_y), float(p.min_groups), math.inf)
    for general in p.rows:
        row(pos[np.asarray(general.idx, dtype=int)], np.asarray(general.coef, float), general.lo, general.hi)

    x_lo = np.zeros(n)
    x_lo[pos[p.include]] = 1.0
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n + n_y, len(lo)
    lp.col_cost_ = np.r_[w[idx], np.zeros(n_y)]
    lp.col_lower_ = np.r_[x_lo, np.zeros(n_y)]
    lp.col_upper_ = np.ones(n + n_y)
    lp.row_lower_ = np.asarray(lo, float)
    lp.row_upper_ = np.asarray(hi, float)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = (np.concatenate(cols) if cols else np.empty(0)).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(vals) if vals else np.empty(0)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * (n + n_y)
    return lp


def _start(p: Problem) -> np.ndarray | None:
    """The threshold path's optimum without the general rows, when it satisfies them (then it is optimal)."""
    from services.core.assortment.threshold import solve_threshold

    relaxed = solve_threshold(Problem(p.r, p.v, p.v0, p.k, p.group, p.cap, p.include, p.min_groups))
    return np.asarray(relaxed.indices, dtype=int) if p.is_feasible(relaxed.indices) else None


def _solve_inner(p: Problem, idx: np.ndarray, w: np.ndarray, deadline: float | None) -> tuple[str, np.ndarray | None]:
    """One step's 0-1 program over products idx: ("optimal" | "infeasible" | "time_limit", the chosen set
    when it satisfies the constraints, else None)."""
    import highspy

    if idx.size == 0:  # nothing worth offering at this threshold: the empty set, if the rows allow it
        return ("optimal", idx) if p.is_feasible([]) else ("infeasible", None)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for key, value in HIGHS_MIP_OPTIONS.items():
        h.setOptionValue(key, value)
    if deadline is not None:
        h.setOptionValue("time_limit", max(1e-6, deadline - time.perf_counter()))
    h.passModel(_inner_model(p, idx, w))
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None
    if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
        raise MnlSolverError(f"HiGHS stopped with {h.modelStatusToString(status)}")
    chosen = None
    if h.getInfo().primal_solution_status == 2:  # 2 = feasible
        chosen = idx[np.asarray(h.getSolution().col_value)[: idx.size] > 0.5]
        if not p.is_feasible(chosen):
            chosen = None
    return ("optimal" if status == highspy.HighsModelStatus.kOptimal else "time_limit"), chosen


def solve_milp(p: Problem, time_limit_s: float | None = None, stats: dict[str, float] | None = None) -> Assortment:
    """Exact optimum under any side constraints. Raises InfeasibleError, or MnlSolverError when HiGHS
    gives no usable answer. `stats` (optional) receives steps, kept products and HiGHS time."""
    t0 = time.perf_counter()
    check_feasible(p)
    if p.n == 0 or p.k == 0:
        if not p.is_feasible([]):
            raise InfeasibleError("no assortment satisfies the general rows")
        return make_assortment(p, [], "highs-milp", t0)
    deadline = None if time_limit_s is None else t0 + time_limit_s
    fixed = np.zeros(p.n, dtype=bool)
    fixed[p.include] = True
    for general in p.rows:
        fixed[np.asarray(general.idx, dtype=int)] = True
    best = _start(p)
    z = revenue(p.r, p.v, p.v0, best) if best is not None else None
    status, steps, kept, highs_ms = OPTIMAL, 0, 0, 0.0
    for _ in range(MAX_STEPS):
        w = p.v * (p.r - (z if z is not None else 0.0))
        idx = _kept(p, w, fixed)
        kept = max(kept, idx.size)
        t_run = time.perf_counter()
        outcome, chosen = _solve_inner(p, idx, w, deadline)
        highs_ms += (time.perf_counter() - t_run) * 1e3
        steps += 1
        if outcome == "infeasible":
            if best is None:
                raise InfeasibleError("no assortment satisfies the general rows")
            raise MnlSolverError("the inner 0-1 program became infeasible after a feasible step")
        if outcome == "time_limit":
            if chosen is not None and (z is None or revenue(p.r, p.v, p.v0, chosen) > z):
                best, z = chosen, revenue(p.r, p.v, p.v0, chosen)
            status = TIME_LIMIT
            break
        if chosen is None:
            raise MnlSolverError("HiGHS reported an optimum that does not satisfy the constraints")
        z_new = revenue(p.r, p.v, p.v0, chosen)
        if z is not None and z_new <= z + 1e-12 * max(1.0, abs(z)):
            break  # no feasible set beats z: z is the optimum
        best, z = chosen, z_new
        if deadline is not None and time.perf_counter() > deadline:
            status = TIME_LIMIT
            break
    else:
        raise MnlSolverError(f"threshold search over 0-1 programs did not converge in {MAX_STEPS} steps")
    if stats is not None:
        stats.update(steps=steps, kept=kept, highs_ms=highs_ms)
    if best is None:
        raise MnlSolverError("HiGHS stopped on the time limit before finding a feasible assortment")
    return make_assortment(p, best, "highs-milp", t0, status)
