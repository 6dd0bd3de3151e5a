"""Learning product attraction from shopper feedback (pure; the Faust wiring is in agents.py).

Estimator (MNL-consistent count model with a Gamma prior, per tenant and product). The model predicts
that product i, shown in panel S, is clicked with probability p_i = v_i / (v0 + sum_S v_j). If the truth
is theta_i v_i, clicks on i over its impressions are approximately Poisson with mean theta_i E_i, where
E_i = sum over impressions of the model's prediction p_i (its *exposure*). With a Gamma(a, a) prior
(mean 1: trust the model until data says otherwise) the posterior is

    theta_i ~ Gamma(a + clicks_i, a + E_i),   mean (a + clicks_i) / (a + E_i).

Exploration (upper confidence bound): the multiplier used to rank is mean + KAPPA * sd, divided by its
value under the prior, so a product nobody has seen keeps exactly its model attraction (theta = 1), one
that was shown often without clicks sinks below 1, and one clicked more than predicted rises above 1;
an uncertain product keeps an optimistic bonus relative to well-measured ones, so new products get
shown. Purchases and add-to-cart are counted (and reported) but clicks are the choice the panel's MNL
model describes, so they alone update theta.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from interarec.v1 import feedback_pb2

PRIOR = 1.0  # Gamma prior strength a: one expected click's worth of evidence moves theta noticeably
KAPPA = 2.0  # exploration: standard deviations of optimism (tuned with simulate_feedback.py)
DEFAULT_PREDICTION = 0.03  # a typical panel item's predicted click probability (see attraction.py)


@dataclass
class Counts:
    """Persisted per (tenant, product): the sufficient statistics of the estimator."""

    exposure: float = 0.0  # sum of predicted click probabilities over impressions
    impressions: int = 0
    clicks: int = 0
    purchases: int = 0
    offset: int = -1  # last feedback-topic offset applied (the key's partition): redeliveries are skipped

    def add(self, event: int, prediction: float) -> None:
        if event == feedback_pb2.FEEDBACK_EVENT_IMPRESSION:
            self.impressions += 1
            self.exposure += prediction
        elif event == feedback_pb2.FEEDBACK_EVENT_CLICK:
            self.clicks += 1
        elif event == feedback_pb2.FEEDBACK_EVENT_PURCHASE:
            self.purchases += 1

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Counts:
        return cls.from_dict(json.loads(text)) if text else cls()

    def to_dict(self) -> dict:
        return {"exposure": self.exposure, "impressions": self.impressions, "clicks": self.clicks,
                "purchases": self.purchases, "offset": self.offset}

    @classmethod
    def from_dict(cls, d: dict) -> Counts:
        return cls(float(d.get("exposure", 0.0)), int(d.get("impressions", 0)), int(d.get("clicks", 0)),
                   int(d.get("purchases", 0)), int(d.get("offset", -1)))


def posterior_mean(clicks, exposure, prior: float = PRIOR):
    return (prior + np.asarray(clicks, float)) / (prior + np.asarray(exposure, float))


def ucb_multiplier(clicks, exposure, prior: float = PRIOR, kappa: float = KAPPA):
    """Optimistic theta, normalised so that the prior (no data) gives exactly 1."""
    shape = prior + np.asarray(clicks, float)
    rate = prior + np.asarray(exposure, float)
    at_prior = 1.0 + kappa / math.sqrt(prior)
    return (shape / rate + kappa * np.sqrt(shape) / rate) / at_prior


@dataclass
class TenantState:
    exposure: np.ndarray
    clicks: np.ndarray


@dataclass
class Learner:
    """In-memory arrays per tenant, aligned with catalog rows, for ranking at request time."""

    n_products: int
    kappa: float = KAPPA
    tenants: dict[str, TenantState] = field(default_factory=dict)

    def _state(self, tenant: str) -> TenantState:
        state = self.tenants.get(tenant)
        if state is None:
            state = self.tenants[tenant] = TenantState(np.zeros(self.n_products), np.zeros(self.n_products))
        return state

    def set_counts(self, tenant: str, row: int, counts: Counts) -> None:
        state = self._state(tenant)
        state.exposure[row] = counts.exposure
        state.clicks[row] = counts.clicks

    def observe(self, tenant: str, row: int, event: int, prediction: float = DEFAULT_PREDICTION) -> None:
        state = self._state(tenant)
        if event == feedback_pb2.FEEDBACK_EVENT_IMPRESSION:
            state.exposure[row] += prediction
        elif event == feedback_pb2.FEEDBACK_EVENT_CLICK:
            state.clicks[row] += 1

    def multipliers(self, tenant: str) -> np.ndarray | None:
        """theta per catalog row for ranking (None: nothing learned for this tenant yet)."""
        state = self.tenants.get(tenant)
        if state is None:
            return None
        return ucb_multiplier(state.clicks, state.exposure, kappa=self.kappa)
