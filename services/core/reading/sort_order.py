"""The order a shopper chose for a listing, read off its sort control: "Sort by: Top rated" on one line, or a label
("Sort", "Order by") with the control showing the chosen option right of it or just below it (a select box).

The shop's words come from the profile (`sort_cues` for the label, `sort_orders` for each order of the closed set
profile.SORT_ORDERS); nothing here knows a shop. OCR drops the space in a select's short text ("Toprated") and reads
its frame and arrow as stray marks ("[Toprated |"): the profile's patterns allow for the first, and only letters,
digits and the punctuation an option uses are kept before matching.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from .ocr import OcrLine
from .profile import SORT_ORDERS, ShopProfile

# How far from its label the control may sit, in label heights: below it (a label over a select box) or right of it
# on the same row ("Sort by [Featured v]").
BELOW_GAP, RIGHT_GAP = 2.5, 12.0
ALIGN_PX = 24  # a control below its label starts about where the label does
# Labelled controls read beyond the frame's read budget, in the same units (a line's width over its height): a few
# select boxes and inputs and their labels. A listing's cards spend the budget first, and a sort select often comes
# last: a filter bar of brand, colour, min and max price and sort costs about 43.
CONTROL_BUDGET = 48.0
MAX_CONTROL_COST = 12.0  # a select box or a short input; a wider framed line is a search bar or a banner
MAX_LABEL_COST = 10.0  # a label is a word or three ("Sort by"); a sentence over buttons is a notice (a cookie banner's)
LABELLED_FRAME_PX = 28  # a label (7 px at least) over a frame (14 px at least): shorter boxes are text lines
LABEL_OF_CONTROL = 0.75  # a label's text is smaller than the box around a control's (a heading above a form is not one)
_JUNK = re.compile(r"[^\w\s:,.()\-–>/]+")


@dataclass(frozen=True)
class SortPatterns:
    label: re.Pattern | None
    orders: tuple[tuple[str, re.Pattern], ...]

    @classmethod
    def build(cls, profile: ShopProfile) -> SortPatterns:
        orders = tuple((o, re.compile("|".join(f"(?:{p})" for p in profile.sort_orders[o]), re.IGNORECASE))
                       for o in SORT_ORDERS if profile.sort_orders.get(o))
        return cls(profile.regex("sort_cues"), orders)

    def named(self, text: str) -> set[str]:
        """The orders `text` names (a select's option names one; a row of options, pills or an open menu, several)."""
        clean = " ".join(_JUNK.sub(" ", text).split())
        return {o for o, pattern in self.orders if pattern.search(clean)}


class LineBox(Protocol):
    """reader.Box as far as this module needs it."""

    left: int
    top: int
    width: int
    height: int
    framed: bool

    @property
    def cost(self) -> float: ...


def _below(label: LineBox | OcrLine, box: LineBox | OcrLine, height: float) -> bool:
    """`box` sits just below `label` (of that height), starting about where it does: a control under its label."""
    return 0 <= box.top - (label.top + height) <= BELOW_GAP * height and abs(box.left - label.left) <= ALIGN_PX


def labelled_controls(boxes: Sequence[LineBox], taken: Collection[LineBox], panel_left: int | None,
                      inside: Callable[[LineBox], LineBox | None],
                      split: Callable[[LineBox], tuple[LineBox, LineBox] | None] = lambda b: None) -> list[LineBox]:
    """Form controls (framed lines: a select box, an input) with a label just above or left of them, and those labels
    the frame's read budget did not reach: what a shopper set in a form (a listing's sort select) is on screen only
    there, and a sidebar's sort select came after the listing's cards had spent the budget. Each control is given as
    `inside(control)`, the text within its frame (None: nothing written in it), as tesseract skips text framed by a
    rectangle. A control may have its label drawn on its own frame, found with it as one box: `split(box)` gives
    (label, control) then, else None. At most CONTROL_BUDGET, top first; `taken`: boxes chosen or read already."""
    main = [b for b in boxes if panel_left is None or b.left < panel_left]
    out: list[LineBox] = []
    spent = 0.0
    # a box with a label on its frame may not look framed as a whole (the label's rows break the frame's own pattern):
    # a box that tall is a candidate too, for the split alone
    candidates = (b for b in main if b.cost <= MAX_CONTROL_COST and (b.framed or b.height >= LABELLED_FRAME_PX))
    for control in sorted(candidates, key=lambda b: (b.top, b.left)):
        # a label drawn on the control's own frame is its label, whatever text sits beside the control
        if (parts := split(control)) is not None and parts[0].height <= parts[1].height:
            label, control = parts
        elif control.framed:
            label = _label(main, control)
        else:
            continue
        text = inside(control) if label is not None else None
        if text is None:  # no label, or nothing written inside (an empty input)
            continue
        # a frame apart from its text (a select wider than its option): that text is a line of its own, maybe read
        text = next((b for b in taken if not b.framed and _within(text, b) and _within(b, control)), text)
        new = [b for b in (label, text) if b not in taken and b not in out]
        cost = sum(b.cost for b in new)
        if new and spent + cost <= CONTROL_BUDGET:
            out.extend(new)
            spent += cost
    return out


def _within(inner: LineBox, outer: LineBox, slack: int = 3) -> bool:
    return (outer.left - slack <= inner.left and inner.left + inner.width <= outer.left + outer.width + slack
            and outer.top - slack <= inner.top and inner.top + inner.height <= outer.top + outer.height + slack)


def _label(boxes: Sequence[LineBox], control: LineBox) -> LineBox | None:
    """The first of `boxes` that is `control`'s label: unframed, short, smaller text, just above it or left of it."""
    return next((b for b in boxes if not b.framed and b.cost <= MAX_LABEL_COST
                 and b.height <= LABEL_OF_CONTROL * control.height and (
        _below(b, control, b.height)
        or (abs((b.top + b.height / 2) - (control.top + control.height / 2)) <= control.height / 2
            and 0 <= control.left - (b.left + b.width) <= RIGHT_GAP * b.height))), None)


def chosen_order(lines: Sequence[OcrLine], patterns: SortPatterns) -> str | None:
    """The sort order a listing's control shows (one of profile.SORT_ORDERS), or None when no sort control was read.
    Only text tied to a sort label counts: "Top rated" alone may be a section heading, not the shopper's choice.
    Text tied to a label that names several orders is a row of options (pills, a segmented control, an open menu):
    which one is chosen shows in their style, not their words, and a wrong order is worse than none, so it is None."""
    if patterns.label is None or not patterns.orders:
        return None
    for label in lines:
        if not (m := patterns.label.search(label.text)):
            continue
        named = patterns.named(label.text[m.end():])  # "Sort by: Top rated", "Sort by price: low to high"
        if not named:
            h = max(label.height, 1.0)
            near = [ln for ln in lines if ln is not label and (
                _below(label, ln, h)
                or (abs(ln.top - label.top) <= h and 0 <= ln.left - (label.left + label.width) <= RIGHT_GAP * h))]
            named = set().union(*(patterns.named(ln.text) for ln in near))
        if len(named) == 1:
            return named.pop()
    return None
