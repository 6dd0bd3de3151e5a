"""Reference formulation in Pyomo: the Charnes-Cooper LP of highs_lp.py (see its docstring), extended to a
MILP for diversity and general rows, written as an algebraic model and solved with HiGHS through Pyomo.

Diversity: binary y_g says group g is touched, u_g = y_g w0 (exact McCormick bounds since w0 lies in
[lo, hi], w0_bounds), u_g <= sum_{i in g} w_i / a_i and sum_g y_g >= m. General rows on x need product
binaries: w_i <= a_i x_i and w_i >= a_i (w0 - 1 + x_i).

Building the model per request costs far more than solving it (bench_mnl.py), so the service never uses
this path; it is the readable statement the fast paths (threshold.py, highs_lp.py, highs_milp.py) are
checked against.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from services.core.assortment.highs_lp import HIGHS_LP_OPTIONS, RECOVERY_TOL
from services.core.assortment.problem import (
    OPTIMAL,
    Assortment,
    InfeasibleError,
    MnlSolverError,
    Problem,
    check_feasible,
    make_assortment,
    revenue,
)

# exact: no relative gap; tight integrality so the big-M rows of general constraints cannot leak revenue
HIGHS_MIP_OPTIONS: dict[str, object] = {"mip_rel_gap": 1e-9, "mip_abs_gap": 1e-12, "mip_feasibility_tolerance": 1e-9}


def w0_bounds(p: Problem) -> tuple[float, float]:
    """Bounds on the no-purchase probability over nonempty feasible sets: at most k products offered,
    and at least one (diversity asks for one or more)."""
    a = p.v / p.v0
    k = min(p.k, p.n)
    top = np.partition(a, p.n - k)[p.n - k:].sum() if k else 0.0
    return 1.0 / (1.0 + top), 1.0 / (1.0 + float(a.min()))


def solve_pyomo(p: Problem, solver: str = "highs", options: Mapping[str, object] | None = None,
                stats: dict[str, float] | None = None) -> Assortment:
    """Solve the constrained MNL problem as the Charnes-Cooper LP (a MILP with diversity or general rows).

    If `stats` is given it receives build_ms (Pyomo model), solve_ms (translation + HiGHS) and highs_ms.
    Raises MnlSolverError unless the solver proves optimality and the recovered set checks out.
    """
    t0 = time.perf_counter()
    check_feasible(p)
    n = p.n
    mip = bool(p.min_groups or p.rows)
    name = f"pyomo-{solver}-{'milp' if mip else 'lp'}"
    if n == 0 or p.k == 0:
        return make_assortment(p, [], name, t0)

    import pyomo.environ as pyo  # deferred: importing Pyomo costs ~0.5 s and only this path needs it
    from pyomo.contrib.solver.common.factory import SolverFactory
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition

    r = p.r.tolist()
    a = (p.v / p.v0).tolist()
    pinned = set(p.include.tolist())
    m = pyo.ConcreteModel()
    m.I = pyo.RangeSet(0, n - 1)
    m.w0 = pyo.Var(bounds=(0, 1))
    m.w = pyo.Var(m.I, domain=pyo.NonNegativeReals)
    m.obj = pyo.Objective(expr=pyo.quicksum(r[i] * m.w[i] for i in range(n)), sense=pyo.maximize)
    m.norm = pyo.Constraint(expr=m.w0 + pyo.quicksum(m.w[i] for i in range(n)) == 1)
    m.avail = pyo.Constraint(
        m.I, rule=lambda mm, i: (mm.w[i] - a[i] * mm.w0 == 0) if i in pinned else (mm.w[i] - a[i] * mm.w0 <= 0))
    if p.k < n:
        m.card = pyo.Constraint(expr=pyo.quicksum(m.w[i] / a[i] for i in range(n)) - p.k * m.w0 <= 0)
    members: dict[int, list[int]] = {}
    if p.group is not None:
        for i, g in enumerate(p.group.tolist()):
            members.setdefault(g, []).append(i)
    if p.cap is not None:
        caps = p.group_caps().tolist()
        binding = [g for g in sorted(members) if caps[g] < len(members[g])]
        m.G = pyo.Set(initialize=binding)
        m.cap = pyo.Constraint(m.G, rule=lambda mm, g: pyo.quicksum(mm.w[i] / a[i] for i in members[g])
                               - caps[g] * mm.w0 <= 0)
    if p.min_groups:
        lo, hi = w0_bounds(p)  # tight McCormick bounds: with [0, 1] the MILP branches for seconds
        m.w0.setlb(lo)
        m.w0.setub(hi)
        m.T = pyo.Set(initialize=sorted(members))
        m.y = pyo.Var(m.T, domain=pyo.Binary)
        m.u = pyo.Var(m.T, bounds=(0, hi))  # u_g = y_g * w0
        m.u_hi = pyo.Constraint(m.T, rule=lambda mm, g: mm.u[g] <= hi * mm.y[g])
        m.u_lo = pyo.Constraint(m.T, rule=lambda mm, g: mm.u[g] >= lo * mm.y[g])
        m.u_w0_lo = pyo.Constraint(m.T, rule=lambda mm, g: mm.u[g] <= mm.w0 - lo * (1 - mm.y[g]))
        m.u_w0_hi = pyo.Constraint(m.T, rule=lambda mm, g: mm.u[g] >= mm.w0 - hi * (1 - mm.y[g]))
        m.touch = pyo.Constraint(m.T, rule=lambda mm, g: mm.u[g] <= pyo.quicksum(mm.w[i] / a[i] for i in members[g]))
        m.diverse = pyo.Constraint(expr=pyo.quicksum(m.y[g] for g in m.T) >= p.min_groups)
    if p.rows:
        m.x = pyo.Var(m.I, domain=pyo.Binary, bounds=lambda mm, i: (1 if i in pinned else 0, 1))
        m.x_hi = pyo.Constraint(m.I, rule=lambda mm, i: mm.w[i] <= a[i] * mm.x[i])
        m.x_lo = pyo.Constraint(m.I, rule=lambda mm, i: mm.w[i] >= a[i] * (mm.w0 - 1 + mm.x[i]))
        m.R = pyo.RangeSet(0, len(p.rows) - 1)

        def general(mm, j):
            row = p.rows[j]
            body = pyo.quicksum(float(c) * mm.x[int(i)] for i, c in zip(row.idx, row.coef, strict=True))
            lo = None if not np.isfinite(row.lo) else row.lo
            hi = None if not np.isfinite(row.hi) else row.hi
            return (lo, body, hi)

        m.general = pyo.Constraint(m.R, rule=general)

    t_built = time.perf_counter()
    if options is None:
        options = (HIGHS_MIP_OPTIONS if mip else HIGHS_LP_OPTIONS) if solver == "highs" else {}
    results = SolverFactory(solver).solve(m, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                                          solver_options=dict(options))
    if stats is not None:
        stats["build_ms"] = (t_built - t0) * 1e3
        stats["solve_ms"] = (time.perf_counter() - t_built) * 1e3
        highs_time = getattr(results.timing_info, "highs_time", None)  # set by the highs interface only
        if isinstance(highs_time, float | int):
            stats["highs_ms"] = float(highs_time) * 1e3
    if p.rows and results.termination_condition == TerminationCondition.provenInfeasible:
        raise InfeasibleError("no assortment satisfies the general rows")
    if (results.termination_condition != TerminationCondition.convergenceCriteriaSatisfied
            or results.solution_status != SolutionStatus.optimal):
        raise MnlSolverError(f"{solver} did not solve the MNL model to optimality (n={n}, k={p.k}): "
                             f"termination={results.termination_condition.name}, "
                             f"solution={results.solution_status.name}")
    results.solution_loader.load_vars()
    w0 = float(pyo.value(m.w0))
    w = np.array([pyo.value(m.w[i]) for i in range(n)], dtype=float)
    if w0 <= 0:
        raise MnlSolverError(f"{solver} returned w0={w0}; expected a positive no-purchase mass")
    chosen = np.flatnonzero(w / (np.asarray(a) * w0) > RECOVERY_TOL)
    value = float(np.dot(p.r, w))
    got = revenue(p.r, p.v, p.v0, chosen)
    if not p.is_feasible(chosen) or abs(got - value) > 1e-6 * max(1.0, abs(value)):
        raise MnlSolverError(f"MNL model solution is not integral: value {value:.9g}, recovered set {got:.9g}")
    return make_assortment(p, chosen, name, t0, OPTIMAL)
