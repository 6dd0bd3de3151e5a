"""The scripted shoppers' one budget tolerance, for the e2e scenarios (scenarios.py) and the evaluation's personas
(personas.py) alike.

A budget is fuzzy: a shopper who keeps opening $120-$130 products is served at $110 or $140 too. 10 %, not
15 %: on a band whose top is 1.4x its bottom (both packages' narrowest budgets), 15 % on each edge would accept
prices 1.9x apart as "in budget", and the evaluation's published figures were measured with 10 %.
"""

from __future__ import annotations

BUDGET_TOLERANCE = 0.10


def within_budget(price: float, low: float | None, high: float | None, tolerance: float = BUDGET_TOLERANCE) -> bool:
    """Whether `price` lies in [low, high] with both edges widened by `tolerance` (None: no edge)."""
    return (low is None or price >= low * (1 - tolerance)) and (high is None or price <= high * (1 + tolerance))
