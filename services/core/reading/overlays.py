"""A dialog pinned over the bottom of the page (a cookie or consent banner: a bar along the viewport's bottom
edge, or a box floating just above it), found from the pixels before anything is recognised.

Its text is the same on every page of the shop and says nothing about what the shopper looks at, but it sits on
a band of its own colour, which the reader otherwise reads early (a promotion's emphasis): on the first page a
reader sees of a shop, a banner's sentence took 12-30 of the 85-unit read budget. Its lines are read last.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

PINNED_PX = 48        # a dialog's bottom edge is the viewport's, or floats at most this far above it
MAX_SHARE = 0.45      # ... and it covers at most this share of the viewport's height, in its lower part
MIN_WIDTH_SHARE = 0.2  # it holds a sentence: wider than a button
TONE_STEP = 4         # gray levels within which a band's fill is one colour


class LineBox(Protocol):
    left: int
    top: int
    width: int
    height: int
    tinted: bool

    @property
    def right(self) -> int: ...

    @property
    def bottom(self) -> int: ...


def bottom_dialog(gray: np.ndarray, lines: list[LineBox]) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of a band of one colour, unlike the page's, holding at least two of `lines`,
    whose bottom edge is at or just above the frame's bottom; None when there is none. The band is flood-filled
    from beside a tinted line in the frame's lower half (a few ms, only when there is one)."""
    height, width = gray.shape
    gray = gray if gray.flags.writeable else gray.copy()  # OpenCV takes the image in and out, even mask-only
    seen: list[tuple[int, int, int, int]] = []
    for b in sorted((b for b in lines if b.tinted and b.top >= height * (1 - MAX_SHARE)), key=lambda b: -b.bottom):
        # seeded on the commonest tone just left of the line: the pixel right beside its first glyph can be the
        # glyph's blur (JPEG ringing), a few levels off the band's fill, and the fill then stopped at once
        y, side = b.top + b.height // 2, gray[b.top + b.height // 2, max(0, b.left - 10):max(0, b.left - 2)]
        if not side.size:
            continue
        x = max(0, b.left - 10) + int(np.argmin(np.abs(side.astype(np.int16) - int(np.median(side)))))
        if any(r[0] <= x < r[2] and r[1] <= y < r[3] for r in seen):
            continue
        mask = np.zeros((height + 2, width + 2), np.uint8)
        flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
        _, _, _, (rx, ry, rw, rh) = cv2.floodFill(gray, mask, (x, y), 0, TONE_STEP, TONE_STEP, flags)
        band = (rx, ry, rx + rw, ry + rh)
        seen.append(band)
        inside = sum(band[0] <= ln.left and ln.right <= band[2] and band[1] <= ln.top and ln.bottom <= band[3]
                     for ln in lines)
        if (band[3] >= height - PINNED_PX and rh <= MAX_SHARE * height and rw >= MIN_WIDTH_SHARE * width
                and inside >= 2):
            return band
    return None
