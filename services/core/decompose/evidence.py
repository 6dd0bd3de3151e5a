"""What the rules decomposer reads off a behaviour summary, and what both its rules (rules.py, glances.py) and the
backend-independent repair (repair.py) need: the constrained fields and their catalog vocabularies, the viewed
products (recency-weighted), the terms they weigh and make hard, and the explicit signals (UI filters, searches)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.common.vocabulary import Vocabulary, norm
from services.core.recency import RECENCY_DECAY, recency_weights

# Hard-constraint rules (brand, category, colour alike).
HARD_TERM_WEIGHT = 0.5  # at least half of the grounded views share the term: a clear focus
HARD_TERM_MIN_VIEWS = 2  # and it was seen on two or more products, not one lingering glance
# Term weights are recency-weighted, so the newest intent wins; but a term must also hold at least half of the
# views counted plainly: off-preference views (up to a third of a noisy session), even two in a row at the end,
# can then never make a term hard on their own.
HARD_TERM_MIN_SHARE = 0.5
# Once a term is hard, keep strong runners-up so "A or B" shoppers lose neither; a runner-up needs this share
# both recency-weighted and counted plainly, so one recent glance is not taken for a second taste.
COMPANION_TERM_WEIGHT = 0.3

# Recency: each newer distinct product view multiplies the weight of older ones by this (the summarizer's
# embedded backend weights its terms the same way), so the newest intent wins.
# Explicit signals: what the shopper typed or set in the UI, stronger than anything inferred from views.
FILTER_EVIDENCE = 1.0  # a filter set in the shop's UI
SEARCH_EVIDENCE = 0.5  # a term typed in the search box
SEARCH_TERM_WEIGHT = 0.5  # soft preference weight of a searched term no view backs yet
STALE_SHARE = 0.5  # an explicit signal is stale once less than this (recency-weighted) share of views fits it


# --- grounding --------------------------------------------------------------------------------------

# One vocabulary (services/common/vocabulary.py) for every path; the rules match exactly (no fuzzy step):
# a summary's values were grounded already, and a query word that is not a catalog word is left unmatched.


@dataclass(frozen=True)
class Field:
    name: str  # Constraints / Preferences field name
    noun: str  # for messages
    catalog_attr: str  # Catalog property listing known values


FIELDS = (
    Field("brands", "brand", "brands"),
    Field("categories", "category", "categories"),
    Field("colours", "colour", "colours"),
)


def field_vocabulary(catalog: Catalog, field: Field) -> Vocabulary:
    """The catalog's spelling of one field (brands, categories, colours), matched exactly after normalising."""
    return Vocabulary(getattr(catalog, field.catalog_attr), fuzzy=False)


@dataclass(frozen=True)
class View:
    product_id: str | None  # None when the product is not in the catalog
    brand: str
    category: str
    colour: str
    price: float  # 0 when unknown
    rating: float | None  # catalog rating; None when not grounded
    weight: float = 1.0  # recency weight: 1 for the newest view


def views_of(summary: summaries_pb2.BehaviourSummary, catalog: Catalog) -> list[View]:
    """Viewed products (oldest to newest), with catalog attributes when the id is grounded (they beat what
    was read off a screenshot) and a recency weight; a product viewed twice counts once, at its last view."""
    raw: list[View] = []
    for vp in summary.viewed_products:
        product = catalog.by_id.get(vp.product_id)
        if product is not None:
            raw = [v for v in raw if v.product_id != product.product_id]
            raw.append(View(product.product_id, product.brand, product.category, product.colour,
                             product.price, product.rating))
        elif vp.brand or vp.category or vp.colour or vp.price > 0:
            raw.append(View(None, vp.brand, vp.category, vp.colour, max(vp.price, 0.0), None))
    weights = recency_weights(len(raw))
    return [View(v.product_id, v.brand, v.category, v.colour, v.price, v.rating, w)
            for v, w in zip(raw, weights, strict=True)]


def share(views: Sequence[View], fits) -> float:
    """Recency-weighted share of the views for which fits(view) holds (1.0 when there are no views)."""
    total = sum(v.weight for v in views)
    return sum(v.weight for v in views if fits(v)) / total if total else 1.0


def term_weights(
    summary_terms: Sequence[summaries_pb2.WeightedTerm],
    views: list[View],
    attr: str,
    ground: Vocabulary,
    field: Field,
    relaxations: list[optimization_pb2.Relaxation],
) -> dict[str, float]:
    """Grounded term -> weight. Summary weights win; when the summary gives none, derive view shares."""
    raw: list[tuple[str, float]] = [(t.value, t.weight) for t in summary_terms if t.value.strip()]
    if not raw and views:
        counts: dict[str, float] = {}
        for view in views:
            value = getattr(view, attr)
            if value:
                counts[value] = counts.get(value, 0.0) + view.weight
        total = sum(v.weight for v in views)
        raw = [(value, count / total) for value, count in counts.items()]
    out: dict[str, float] = {}
    for value, weight in raw:
        canonical = ground(value)
        if canonical is None:
            relaxations.append(optimization_pb2.Relaxation(
                constraint=field.name, reason=f"not in catalog: {field.noun} {value!r} (weight {weight:.2f})"))
            continue
        out[canonical] = max(out.get(canonical, 0.0), min(max(float(weight), 0.0), 1.0))
    return out


def hard_terms(terms: dict[str, float], views: list[View], attr: str, ground: Vocabulary) -> list[str]:
    """Rule: a term with weight >= HARD_TERM_WEIGHT seen on >= HARD_TERM_MIN_VIEWS viewed products, and on at
    least HARD_TERM_MIN_SHARE of them, becomes hard; so does a term every viewed product shares, however few
    (the shopper's first view is their current intent: nothing contradicts it); then companions with weight >=
    COMPANION_TERM_WEIGHT, seen on at least that share of the viewed products (and on two) too, join it. Without
    such a term, one newest view that disagrees with all older views, which agree, makes the term both values. Strongest
    first."""
    backing: dict[str, int] = {}
    for view in views:
        canonical = ground(getattr(view, attr)) if getattr(view, attr) else None
        if canonical is not None:
            backing[canonical] = backing.get(canonical, 0) + 1
    n = len(views)
    # Unanimous views need no second view: waiting for one left the panel unconstrained for a whole view. A wrong
    # guess from one view is undone by the next views that disagree (below).
    min_views = 1 if n and len(backing) == 1 else HARD_TERM_MIN_VIEWS
    primary = [t for t, w in terms.items() if w >= HARD_TERM_WEIGHT and backing.get(t, 0) >= min_views
               and backing.get(t, 0) >= HARD_TERM_MIN_SHARE * n]
    change = term_change(views, attr, ground)
    if not primary and change is not None:
        # The newest views agree on a term none of the older views has, and the older views agree: one such view
        # widens the term to both instead of removing it (a glance elsewhere must not empty a panel the older
        # views agreed on); two in a row are a change of mind, followed in full (before, five views with the
        # old term on three stayed unconstrained until the new one held half of them).
        old, new, run = change
        if run >= HARD_TERM_MIN_VIEWS:
            return [new]
        return sorted({old, new}, key=lambda t: (-terms.get(t, 0.0), t))
    if not primary:
        return []
    # A second taste needs two views, as the first does: at three views one glance holds a third of them and was
    # taken for a companion (held-out draw 2 `noisy-colour`: a lamp and a white shoe glanced at kept lamps and white
    # hard beside beige footwear, 4 of 8 right).
    chosen = set(primary) | {t for t, w in terms.items()
                             if w >= COMPANION_TERM_WEIGHT and backing.get(t, 0) >= COMPANION_TERM_WEIGHT * n
                             and backing.get(t, 0) >= HARD_TERM_MIN_VIEWS}
    return sorted(chosen, key=lambda t: (-terms[t], t))


def term_change(views: Sequence[View], attr: str, ground: Vocabulary) -> tuple[str, str, int] | None:
    """(old term, new term, newest views with it) when the newest views share a term none of the older views
    has and all older views share one term; else None."""
    values = [ground(getattr(v, attr)) if getattr(v, attr) else None for v in views]
    if len(values) < 2 or values[-1] is None:
        return None
    run = 1
    while run < len(values) and values[-1 - run] == values[-1]:
        run += 1
    older = set(values[:len(values) - run])
    if len(older) != 1 or None in older:
        return None
    return next(iter(older)), values[-1], run


# --- explicit signals: UI filters and searches --------------------------------------------------------

_FILTER_FIELD = {summaries_pb2.UiFilter.FIELD_BRAND: "brands", summaries_pb2.UiFilter.FIELD_COLOUR: "colours",
                 summaries_pb2.UiFilter.FIELD_CATEGORY: "categories"}


@dataclass
class Explicit:
    """What the shopper set or typed: field -> {catalog value: evidence}, plus a price filter."""

    terms: dict[str, dict[str, float]]
    price: tuple[float | None, float | None] | None = None
    category: str | None = None  # the category the filters were set on


def explicit_of(summary: summaries_pb2.BehaviourSummary, catalog: Catalog) -> Explicit:
    out = Explicit(terms={f.name: {} for f in FIELDS})
    grounders = {f.name: field_vocabulary(catalog, f) for f in FIELDS}
    for f in summary.ui_filter_fields:
        if f.field == summaries_pb2.UiFilter.FIELD_PRICE:
            out.price = (f.price_low if f.HasField("price_low") else None,
                         f.price_high if f.HasField("price_high") else None)
        elif (field := _FILTER_FIELD.get(f.field)) and (value := grounders[field](f.value)):
            out.terms[field][value] = FILTER_EVIDENCE
    out.category = grounders["categories"](summary.ui_filters_category) if summary.ui_filters_category else None
    # Searched words and word pairs that name a brand, colour or category ("norda black sneakers"). A query
    # that names one product ("Norda Trail Runner") is a way to reach that product, not a stated taste: the
    # view it leads to already counts as a view.
    queries = [q for q in summary.search_queries if not _names_a_product(q, catalog, grounders)]
    for i, query in enumerate(reversed(queries)):  # newest first, older ones weigh less
        words = norm(query).split()
        grams = words + [" ".join(words[j:j + 2]) for j in range(len(words) - 1)]
        for f in FIELDS:
            for gram in grams:
                if value := grounders[f.name](gram):
                    evidence = SEARCH_EVIDENCE * RECENCY_DECAY ** i
                    out.terms[f.name][value] = max(out.terms[f.name].get(value, 0.0), evidence)
    return out


_TITLE_WORDS: weakref.WeakKeyDictionary[Catalog, list[frozenset[str]]] = weakref.WeakKeyDictionary()


def _names_a_product(query: str, catalog: Catalog, grounders: dict[str, Vocabulary]) -> bool:
    """Whether a query names a product: it has words that are no brand, colour or category, and all of its
    words are in one catalog title."""
    words = norm(query).split()
    if not words or all(any(g(w) for g in grounders.values()) for w in words):
        return False
    titles = _TITLE_WORDS.get(catalog)
    if titles is None:  # each title's words, once per catalog (dropped with it)
        titles = _TITLE_WORDS[catalog] = [frozenset(norm(p.title).split()) for p in catalog.products]
    wanted = set(words)
    return any(wanted <= title for title in titles)
