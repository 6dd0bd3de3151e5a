"""Feedback learning: the estimator moves the right way, and on a simulated population the learner's
regret falls over time and ends below the model's own (no learning)."""

from __future__ import annotations

import numpy as np

from interarec.v1 import feedback_pb2
from services.optimizer.feedback import Counts, Learner, posterior_mean, ucb_multiplier
from services.optimizer.simulate_feedback import make_world, simulate


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
