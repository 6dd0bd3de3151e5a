"""Feedback validation (pure): a product must exist; impressions and clicks must refer to a product the
session was actually recommended, in the window named (or any window of the session when none is named).
A window the session was never shown, or one too old to be remembered, is refused: accepting it would let
a token holder inject clicks for any product into the tenant's feedback learning and trending.
Add-to-cart and purchase need only a catalog product: shoppers also buy what was never recommended."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from interarec.v1 import feedback_pb2
from services.common.catalog import Catalog

EVENTS = {e.name.removeprefix("FEEDBACK_EVENT_").lower(): e.number
          for e in feedback_pb2.FeedbackEvent.DESCRIPTOR.values if e.number}
MUST_BE_RECOMMENDED = {"impression", "click"}


def problem(catalog: Catalog, shown: Mapping[int, Collection[str]], product_id: str, event: str,
            window_seq: int) -> str | None:
    """Why this event is invalid, or None. `shown`: window_seq -> product ids, for the windows the session
    was recommended (LatestRecommendations.shown)."""
    if event not in EVENTS:
        return f"event must be one of {', '.join(EVENTS)}"
    if product_id not in catalog.by_id:
        return f"product {product_id!r} is not in the catalog"
    if event not in MUST_BE_RECOMMENDED:
        return None
    if window_seq:
        if window_seq not in shown:
            return f"window {window_seq} is not a recommendation of this session (or no longer remembered)"
        windows = [shown[window_seq]]
    else:
        windows = list(shown.values())
    if not any(product_id in products for products in windows):
        where = f"window {window_seq}" if window_seq else "this session's recommendations"
        article = "an" if event == "impression" else "a"
        return f"product {product_id!r} was not in {where}, so it cannot have {article} {event}"
    return None
