"""Benchmark: exact threshold search vs the Pyomo + HiGHS LP on random capacitated MNL instances.

    python services/optimizer/bench_mnl.py [--k 8] [--sizes 100 1000 10000] [--seed 0]

Prints median wall times (Pyomo split into model build, solve incl. translation, and HiGHS alone, with
the tuned options and with HiGHS defaults), their ratios, and whether the solvers agree on revenue.
A script, not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from services.optimizer.mnl import HIGHS_LP_OPTIONS, solve_lp_pyomo, threshold_search


def _median_ms(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), result


def _lp(r, v, k, options, repeats):
    runs = []
    for _ in range(repeats):
        stats: dict[str, float] = {}
        t0 = time.perf_counter()
        a = solve_lp_pyomo(r, v, 1.0, k, options=options, stats=stats)
        stats["total_ms"] = (time.perf_counter() - t0) * 1e3
        runs.append((stats, a))
    med = {key: statistics.median(s[key] for s, _ in runs) for key in runs[0][0]}
    return med, runs[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    solve_lp_pyomo(np.ones(3), np.ones(3), 1.0, 1)  # warm-up: Pyomo import and solver discovery
    print(f"capacitated MNL, K={args.k}, v0=1, prices lognormal, weights exp(N(-3.4, 0.6)); medians in ms")
    header = (f"{'n':>7} {'threshold':>10} {'lp total':>10} {'build':>8} {'solve':>8} {'highs':>8} "
              f"{'highs dflt':>10} {'lp/thr':>8} {'dflt/tuned':>10}  agree")
    print(header)
    for n in args.sizes:
        r = rng.lognormal(4.0, 0.9, n)
        v = np.exp(rng.normal(-3.4, 0.6, n))
        repeats = 5 if n <= 1_000 else 3
        thr_ms, thr = _median_ms(lambda r=r, v=v: threshold_search(r, v, 1.0, args.k), 50)
        tuned, lp = _lp(r, v, args.k, HIGHS_LP_OPTIONS, repeats)
        default, lp_default = _lp(r, v, args.k, {}, repeats)
        rel = abs(thr.expected_revenue - lp.expected_revenue) / max(thr.expected_revenue, 1e-12)
        rel_d = abs(thr.expected_revenue - lp_default.expected_revenue) / max(thr.expected_revenue, 1e-12)
        agree = "yes" if max(rel, rel_d) <= 1e-6 and thr.indices == lp.indices else "NO"
        print(f"{n:>7} {thr_ms:>10.3f} {tuned['total_ms']:>10.1f} {tuned['build_ms']:>8.1f} "
              f"{tuned['solve_ms']:>8.1f} {tuned['highs_ms']:>8.2f} {default['highs_ms']:>10.2f} "
              f"{tuned['total_ms'] / thr_ms:>7.0f}x {default['highs_ms'] / tuned['highs_ms']:>9.1f}x  "
              f"{agree} (rel diff {max(rel, rel_d):.1e}, revenue {thr.expected_revenue:.4f}, |S|={len(thr)})")


if __name__ == "__main__":
    main()
