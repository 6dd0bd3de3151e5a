"""Where the shop's masthead (logo, search, cart; a sticky header over a scrolled page) ends, from what a frame
shows rather than from a fixed height: the shop's name is often set bigger than a product title, so the
reader and the grounding leave the masthead out when they look for the page's own heading. Also the page's typical
text height, which both measure the page's lines by."""

from __future__ import annotations

import numpy as np

SEARCH_SHARE = 0.25  # a masthead sits in the frame's top quarter
RULE_SHARE = 0.85    # an edge across this share of the frame's width is a rule or a band's edge, not text
RULE_STEP = 10       # gray levels between neighbouring rows that make an edge (a light border on white: ~25)


def masthead_bottom(gray: np.ndarray, lines=()) -> int:
    """The lowest edge crossing the whole frame in its top quarter (a header's bottom border, or where its band
    colour gives way to the page's); a header drawn without one ends with its row of text when that row is a
    bar (`text_bar_bottom`). 0: no masthead in sight (a page scrolled past a header that does not stick)."""
    top = gray[: max(2, int(SEARCH_SHARE * gray.shape[0]))].astype(np.int16)
    crossing = (np.abs(np.diff(top, axis=0)) > RULE_STEP).mean(axis=1) >= RULE_SHARE
    if crossing.any():
        return int(np.flatnonzero(crossing)[-1]) + 1
    return text_bar_bottom(lines, gray.shape[0])


def text_bar_bottom(lines, height: float) -> int:
    """The bottom of the frame's top row of text when it is a bar: lines side by side far apart (a logo, and a
    search field or a cart link), within the top quarter of `height`. Anything with left/top/width/height will
    do (line boxes, OCR lines). 0 when the top row is one line: that may be the page's own title."""
    lines = list(lines)
    if not lines:
        return 0
    first = min(lines, key=lambda b: b.top)
    row = sorted((b for b in lines if b.top < first.top + first.height and b.top + b.height > first.top),
                 key=lambda b: b.left)
    apart = any(b.left - (a.left + a.width) > 100 for a, b in zip(row, row[1:], strict=False))
    bottom = max(b.top + b.height for b in row)
    return int(bottom) if apart and bottom <= SEARCH_SHARE * height else 0


def below(line, masthead: float) -> bool:
    """A line is the page's, not the masthead's, when its middle is below the masthead's end (a title half
    under a sticky header's border still counts)."""
    return line.top + line.height / 2 > masthead


def median_height(lines) -> int | None:
    """The page's text height: the (upper) median of the lines' heights (line boxes or read lines); None without
    lines. The reader plans by it and the grounding sizes headings by it."""
    heights = sorted(ln.height for ln in lines)
    return heights[len(heights) // 2] if heights else None
