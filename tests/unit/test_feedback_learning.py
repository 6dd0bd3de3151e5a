"""Feedback learning: the estimator moves the right way, and on a simulated population the learner's
regret falls over time and ends below the model's own (no learning)."""

from __future__ import annotations

import numpy as np

from infra.bench.simulate_feedback import make_world, simulate
from interarec.v1 import feedback_pb2
from services.optimizer.feedback import (
    Counts,
    FeedbackFold,
    Learner,
    parse_table_key,
    posterior_mean,
    table_key,
    ucb_multiplier,
)


def test_prior_keeps_model_attraction_and_evidence_moves_it():
    assert ucb_multiplier(0, 0.0) == 1.0  # nothing learned: the model's attraction, unchanged
    assert posterior_mean(0, 0.0) == 1.0
    # shown often, never clicked: sinks; clicked more than predicted: rises above a fresh product
    assert ucb_multiplier(0, 5.0) < 0.5
    assert ucb_multiplier(20, 5.0) > 1.0
    # the same click rate measured on more exposure is less optimistic (the exploration bonus shrinks)
    assert ucb_multiplier(2, 2.0) > ucb_multiplier(200, 200.0)


def test_learner_counts_per_tenant():
    learner = Learner(n_products=3)
    assert learner.multipliers("a") is None
    for _ in range(40):
        learner.observe("a", 0, feedback_pb2.FEEDBACK_EVENT_IMPRESSION, 0.05)
    learner.observe("a", 1, feedback_pb2.FEEDBACK_EVENT_IMPRESSION, 0.05)
    learner.observe("a", 1, feedback_pb2.FEEDBACK_EVENT_CLICK)
    theta = learner.multipliers("a")
    assert theta[0] < theta[2] == 1.0 < theta[1]
    assert learner.multipliers("b") is None  # tenants never share what they learned
    c = Counts()
    for event in (feedback_pb2.FEEDBACK_EVENT_IMPRESSION, feedback_pb2.FEEDBACK_EVENT_CLICK,
                  feedback_pb2.FEEDBACK_EVENT_PURCHASE):
        c.add(event, 0.1)
    assert Counts.from_json(c.to_json()) == c == Counts(0.1, 1, 1, 1, -1)
    assert Counts.from_json("") == Counts()


def test_regret_falls_on_a_simulated_population():
    world = make_world(products=40, k=5, seed=3)
    learned = simulate(world, 3000, "ucb")
    model = simulate(world, 3000, "model")
    first, last = learned[:500].mean(), learned[-500:].mean()
    assert last < 0.7 * first
    assert last < 0.7 * model[-500:].mean()
    assert np.all(model >= -1e-9) and np.all(learned >= -1e-9)  # nothing beats the true optimum


def _counts(clicks: int, exposure: float, offset: int) -> Counts:
    return Counts(exposure=exposure, impressions=int(exposure * 10), clicks=clicks, offset=offset)


def test_fold_sums_partitions_and_ignores_what_it_already_holds():
    learner = Learner(n_products=2)
    fold = FeedbackFold(learner, {"p0": 0, "p1": 1})
    assert fold.apply(table_key("shop", "p0", 0), _counts(1, 0.5, offset=10))
    assert fold.apply(table_key("shop", "p0", 3), _counts(2, 0.5, offset=4))  # another replica's partition
    assert learner.tenants["shop"].clicks[0] == 3 and learner.tenants["shop"].exposure[0] == 1.0
    # the echo of a record already folded, and an older record arriving late, change nothing
    assert not fold.apply(table_key("shop", "p0", 0), _counts(1, 0.5, offset=10))
    assert not fold.apply(table_key("shop", "p0", 0), _counts(0, 0.1, offset=9))
    # a newer cumulative record replaces its partition's share (not added on top)
    assert fold.apply(table_key("shop", "p0", 0), _counts(4, 0.9, offset=12))
    assert learner.tenants["shop"].clicks[0] == 6 and fold.clicks == 6 and fold.products == 1
    # a deleted key takes its share away
    assert fold.apply(table_key("shop", "p0", 3), None)
    assert learner.tenants["shop"].clicks[0] == 4 and fold.clicks == 4
    # unknown products and foreign keys are ignored, not guessed at
    assert not fold.apply(table_key("shop", "gone", 0), _counts(1, 0.1, offset=1))
    assert not fold.apply("shop/p0", _counts(1, 0.1, offset=1))
    assert not fold.apply("p0@1", _counts(1, 0.1, offset=1))


def test_fold_keeps_tenants_apart():
    learner = Learner(n_products=2)
    fold = FeedbackFold(learner, {"p0": 0, "p1": 1})
    fold.apply(table_key("a", "p1", 0), _counts(5, 0.2, offset=1))
    assert learner.multipliers("b") is None
    fold.apply(table_key("b", "p0", 0), _counts(0, 3.0, offset=1))
    theta_a, theta_b = learner.multipliers("a"), learner.multipliers("b")
    assert theta_a[1] > 1.0 == theta_a[0] and theta_b[1] == 1.0 > theta_b[0]


def test_fold_order_does_not_matter():
    """Replicas fold the same records in different orders (own writes first, the changelog later) and
    must end with identical numbers."""
    rng = np.random.default_rng(7)
    records = []
    for partition in range(4):
        clicks, exposure = 0, 0.0
        for offset in range(20):
            clicks += int(rng.integers(0, 2))
            exposure += float(rng.random()) * 0.1
            records.append((table_key("t", f"p{offset % 3}", partition), _counts(clicks, exposure, offset)))
    results = []
    for order in (records, records[::-1], [records[i] for i in rng.permutation(len(records))]):
        learner = Learner(n_products=3)
        fold = FeedbackFold(learner, {"p0": 0, "p1": 1, "p2": 2})
        for key, counts in order:
            fold.apply(key, counts)
        results.append((learner.tenants["t"].clicks.copy(), learner.tenants["t"].exposure.copy(), fold.clicks))
    for clicks, exposure, total in results[1:]:
        assert np.array_equal(clicks, results[0][0]) and np.array_equal(exposure, results[0][1])
        assert total == results[0][2]


def test_table_key_round_trip():
    assert parse_table_key(table_key("demo", "sku@42/x", 7)) == ("demo", "sku@42/x", 7)
