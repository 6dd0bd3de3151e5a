"""How much an older product view counts, for every path that weights views (both summarizer backends, the
rules decomposer and the evaluation's baselines): one decay, so none of them gains from a different memory."""

from __future__ import annotations

# Each newer distinct product view multiplies the weight of the older ones by this: a shopper who changes
# intent halfway (three views of one thing, then three of another) ends with the new intent at about 3/4
# of the weight, while one stray view among several still counts for little.
RECENCY_DECAY = 0.7


def recency_weights(n: int, decay: float = RECENCY_DECAY) -> list[float]:
    """Weights of n views ordered oldest to newest: the newest weighs 1, each older one `decay` times less."""
    return [decay ** (n - 1 - i) for i in range(n)]
