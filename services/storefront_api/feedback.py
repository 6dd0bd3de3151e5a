"""Feedback validation (pure): a product must exist; impressions and clicks must refer to a product the
session was actually recommended, in the window named (or any recent window when none is named).
Add-to-cart and purchase need only a catalog product: shoppers also buy what was never recommended."""

from __future__ import annotations

from collections.abc import Sequence

from interarec.v1 import feedback_pb2, recommendations_pb2
from services.common.catalog import Catalog

EVENTS = {e.name.removeprefix("FEEDBACK_EVENT_").lower(): e.number
          for e in feedback_pb2.FeedbackEvent.DESCRIPTOR.values if e.number}
MUST_BE_RECOMMENDED = {"impression", "click"}


def problem(catalog: Catalog, history: Sequence[recommendations_pb2.Recommendation], product_id: str, event: str,
            window_seq: int) -> str | None:
    """Why this event is invalid, or None. `history`: the session's kept windows, oldest first."""
    if event not in EVENTS:
        return f"event must be one of {', '.join(EVENTS)}"
    if product_id not in catalog.by_id:
        return f"product {product_id!r} is not in the catalog"
    if event not in MUST_BE_RECOMMENDED:
        return None
    if window_seq:
        if history and window_seq < history[0].window_seq:
            return None  # older than the kept history: the product exists, nothing more can be checked
        windows = [r for r in history if r.window_seq == window_seq]
        if not windows:
            return f"window {window_seq} is not a recommendation of this session"
    else:
        windows = list(history)
    if not any(item.product_id == product_id for rec in windows for item in rec.items):
        where = f"window {window_seq}" if window_seq else "this session's recommendations"
        return f"product {product_id!r} was not in {where}, so it cannot have an {event}" if event == "impression" \
            else f"product {product_id!r} was not in {where}, so it cannot have a {event}"
    return None
