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

Sharing across replicas. Feedback is keyed by session, so each optimizer replica consumes only some
partitions; the estimator is per tenant and product, so every replica needs every partition's counts.
Counts are kept per (tenant, product, feedback partition) under `table_key`: only the replica owning that
partition writes the key, and each write carries the feedback offset it has counted up to. `FeedbackFold`
folds such cumulative records, from wherever they come (this replica's own writes, or the table's
changelog read by every replica), into the Learner: a record whose offset is not newer than the one
already folded is ignored, so folding is idempotent and order-safe, and a cell's total is recomputed as
the sum over its partitions, so every replica that has folded the same records holds the same numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
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

    def has_data(self) -> bool:
        return bool(self.impressions or self.clicks or self.purchases)

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


def table_key(tenant: str, product_id: str, partition: int) -> str:
    """The key of one feedback partition's counts for a tenant's product: 'tenant/product_id@partition'.
    Tenants are checked (keys.check_tenant) and never contain '/'; product ids may contain anything."""
    return f"{tenant}/{product_id}@{partition}"


def parse_table_key(key: str) -> tuple[str, str, int] | None:
    """(tenant, product_id, partition), or None for a key not written by table_key."""
    tenant_product, at, partition = key.rpartition("@")
    tenant, slash, product_id = tenant_product.partition("/")
    if not (at and slash and tenant and product_id and partition.isdigit()):
        return None
    return tenant, product_id, int(partition)


@dataclass
class FeedbackFold:
    """Every feedback partition's latest cumulative Counts, summed per (tenant, product) into the Learner.

    `apply` costs O(partitions) per record (one cell's sum is recomputed); memory is one Counts per
    (tenant, product, partition) with feedback."""

    learner: Learner
    index: Mapping[str, int]  # product_id -> catalog row
    cells: dict[tuple[str, int], dict[int, Counts]] = field(default_factory=dict)
    clicks: int = 0  # over all tenants and products
    purchases: int = 0

    def apply(self, key: str, counts: Counts | None) -> bool:
        """Fold one partition's cumulative counts (None: the key was deleted). Returns whether anything
        changed: False for an unknown key or product, or a record not newer than the one already folded."""
        parsed = parse_table_key(key)
        if parsed is None:
            return False
        tenant, product_id, partition = parsed
        row = self.index.get(product_id)
        if row is None:
            return False
        by_partition = self.cells.setdefault((tenant, row), {})
        old = by_partition.get(partition)
        if counts is None:
            if old is None:
                return False
            del by_partition[partition]
        elif old is not None and counts.offset <= old.offset:
            return False
        elif not counts.has_data() and old is None:
            return False
        else:
            by_partition[partition] = counts
        self._update_totals(old, counts)
        total = Counts()
        for _, c in sorted(by_partition.items()):  # a fixed order: every replica sums to the same float
            total.exposure += c.exposure
            total.clicks += c.clicks
        self.learner.set_counts(tenant, row, total)
        if not by_partition:
            del self.cells[(tenant, row)]
        return True

    def _update_totals(self, old: Counts | None, new: Counts | None) -> None:
        self.clicks += (new.clicks if new else 0) - (old.clicks if old else 0)
        self.purchases += (new.purchases if new else 0) - (old.purchases if old else 0)

    @property
    def products(self) -> int:
        """(tenant, product) pairs with any feedback."""
        return len(self.cells)
