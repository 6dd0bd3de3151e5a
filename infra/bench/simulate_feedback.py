"""Regret of feedback learning on a simulated population of shoppers with known true attractions.

    python -m infra.bench.simulate_feedback [--rounds 20000] [--products 200] [--k 8]
        [--seed 0] [--plot var/feedback_regret.png]

The optimizer believes attractions v_i (from its features); the truth is theta_i v_i with theta_i
lognormal (some products sell far better or worse than their features say). Each round one shopper
sees the panel the policy picks, chooses by the true MNL model (or leaves), and the impressions and the
click feed the learner (feedback.py). Regret per round = true expected revenue of the true optimum
minus that of the panel shown. Policies: the model alone (no learning), the posterior mean (greedy) and
the posterior with an upper-confidence bonus (the service's default). Prints average regret per window
and saves a PNG plot when matplotlib is installed (`pip install -e '.[plot]'`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from services.core.assortment.problem import Problem, revenue
from services.core.assortment.threshold import solve_threshold
from services.optimizer.feedback import posterior_mean, ucb_multiplier


@dataclass
class World:
    r: np.ndarray
    v_model: np.ndarray
    v_true: np.ndarray
    k: int
    best: float  # true optimal expected revenue


def make_world(products: int, k: int, seed: int) -> World:
    rng = np.random.default_rng(seed)
    r = rng.lognormal(4.0, 0.6, products)
    v_model = np.exp(rng.normal(-3.4, 0.5, products))
    v_true = v_model * rng.lognormal(0.0, 0.8, products)
    best = solve_threshold(Problem(r, v_true, 1.0, k)).expected_revenue
    return World(r, v_model, v_true, k, best)


def simulate(world: World, rounds: int, policy: str, seed: int = 1) -> np.ndarray:
    """Regret per round for policy 'model', 'greedy' or 'ucb'."""
    rng = np.random.default_rng(seed)
    n = world.r.size
    clicks, exposure = np.zeros(n), np.zeros(n)
    regret = np.empty(rounds)
    cache: dict[bytes, np.ndarray] = {}
    for t in range(rounds):
        if policy == "model":
            theta = np.ones(n)
        elif policy == "greedy":
            theta = posterior_mean(clicks, exposure)
        else:
            theta = ucb_multiplier(clicks, exposure)
        key = theta.tobytes()
        chosen = cache.get(key)
        if chosen is None:
            chosen = np.array(solve_threshold(Problem(world.r, world.v_model * theta, 1.0, world.k)).indices)
            cache = {key: chosen}
        regret[t] = world.best - revenue(world.r, world.v_true, 1.0, chosen)
        if policy == "model" or chosen.size == 0:
            continue
        # the model's prediction for each impression, with its current best estimate of the panel
        est = world.v_model[chosen] * posterior_mean(clicks[chosen], exposure[chosen])
        exposure[chosen] += world.v_model[chosen] / (1.0 + est.sum())
        probs = world.v_true[chosen] / (1.0 + world.v_true[chosen].sum())
        pick = rng.random()
        cum = np.cumsum(probs)
        hit = int(np.searchsorted(cum, pick, side="right"))
        if hit < chosen.size:
            clicks[chosen[hit]] += 1
    return regret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="var/feedback_regret.png")
    args = parser.parse_args()
    world = make_world(args.products, args.k, args.seed)
    results = {p: simulate(world, args.rounds, p) for p in ("model", "greedy", "ucb")}
    windows = 10
    size = args.rounds // windows
    print(f"{args.products} products, K={args.k}; true optimum {world.best:.3f} per shopper; "
          f"average regret per shopper in windows of {size} rounds (share of the optimum)")
    print(f"{'rounds':>12} " + " ".join(f"{p:>16}" for p in results))
    for w in range(windows):
        cells = []
        for reg in results.values():
            m = float(reg[w * size:(w + 1) * size].mean())
            cells.append(f"{m:8.3f} ({m / world.best:5.1%})")
        print(f"{w * size:>6}-{(w + 1) * size:<6} " + " ".join(f"{c:>16}" for c in cells))
    print("cumulative regret: " + ", ".join(f"{p} {reg.sum():,.0f}" for p, reg in results.items()))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install -e '.[plot]')")
        return
    from pathlib import Path

    fig, ax = plt.subplots(figsize=(7, 4))
    for p, reg in results.items():
        ax.plot(np.cumsum(reg), label=p)
    ax.set_xlabel("shoppers")
    ax.set_ylabel("cumulative regret (expected revenue)")
    ax.set_title("Feedback learning: regret against the true optimum")
    ax.legend()
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=110, bbox_inches="tight")
    print(f"plot saved to {args.plot}")


if __name__ == "__main__":
    main()
