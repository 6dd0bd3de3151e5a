"""Region reader: find the text lines of a screenshot with cheap image operations, recognise only the ones
that matter, each at the size Tesseract reads best, and read the product's colour from its picture.

Full-frame OCR spends most of its time recognising text nobody needs (navigation, footers, our own
recommendation panel, the text inside product pictures) at whatever size it happens to be. Here:
1. `find_lines`: a morphological gradient marks ink (dark-on-light and light-on-dark alike); closing it
   horizontally joins letters into words and words into lines; connected components are the line boxes.
   Components far taller than text are pictures. (~10 ms for 1280x800.)
2. `choose_lines`: our panel is cut out (its heading, learned once, fixes its left edge: until it is, the lines
   on the right are read first, on their own, to find it: `RegionReader._find_panel`); lines inside
   pictures, and lines read before with exactly the same pixels (header, navigation: their text is
   reused), are skipped; then lines are taken in order of importance until the profile's read budget is
   spent: the biggest text first (a product title, a page heading, a price), the lines leading the page
   below the masthead (masthead.py), text on tinted bands (promotions), then the block around the main
   heading (the buy box: brand, price, rating, swatches; the breadcrumb), then everything else by size, and
   last the lines of a dialog pinned over the page's bottom (a cookie banner: overlays.py). Lines read only
   to look for our panel's heading are dropped when it is not in sight (they are then the panel's cards, and
   their column is left unread).
3. `recognise`: the chosen lines are rescaled to `target_line_px`, polarity-normalised (dark text on
   white), stacked into one strip and recognised in one libtesseract call; word boxes are mapped back to
   the screenshot, so the grounding sees the same `OcrLine`s as from full-frame OCR.
4. `picture_colour`: the biggest picture in the page body (the product image on a product page) is
   quantised to the profile's reference colours, ignoring its background.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from services.common import privacy

from . import sort_order, tesslib
from .masthead import below, masthead_bottom, median_height
from .ocr import OcrLine
from .overlays import bottom_dialog
from .panel_geometry import PanelGeometry
from .profile import ShopProfile

INK_THRESHOLD = 40          # gray-level gradient that counts as a glyph edge
MIN_LINE_PX, MAX_LINE_PX = 7, 52
PICTURE_MIN_PX = 56         # a component at least this tall and wide is a picture, not text (sunglasses: ~60 px)
GAP = 14                    # blank rows between stacked lines in the strip
PAD = 8
CACHE_LINES = 4000
# Headings measured 0.42-0.55 on both demo layouts; a label merged with the control below it ~0.35.
ANCHOR_MIN_INK = 0.38
# "Big" text: at least this share of the tallest line and this multiple of the body text's line height ...
BIG_OF_TALLEST, BIG_OF_BODY = 0.7, 1.3
# ... and a title may be only "emphasised": line boxes of a title without descenders measure only ~1.16x the
# body's (whose lines mostly have them), and a row of pill-shaped chips can measure taller than the title
EMPHASIS_OF_TALLEST, EMPHASIS_OF_BODY = 0.55, 1.12
TINTED_SHARE = 0.45
MARGIN_PX = 6  # columns at each side of the frame where the page's background shows
# a control's text shorter than this share of its box is scaled by the text, not the box (a filled chip)
FRAMED_TEXT_SHARE = 0.7
MENU_MIN_ITEMS = 4  # tinted lines level with each other from which they are a menu bar's links
# a product page's main picture is at least this tall and wide in area (a card's thumbnail less); its box may be
# its object alone, wide and short (sunglasses), when its backdrop is the page's tone
MAIN_PICTURE_PX = 120
PANEL_PAD = 24  # our panel's heading starts this far right of the panel's edge
SIDE_SHARE = 0.6  # our panel starts right of this share of the frame's width
# our panel's cards: a thumbnail (52-60 px on every layout) with the card's text beside it, a small gap between;
# two lines beside thumbnails this far apart (more than one thumbnail's height) are two cards
THUMB_MAX_PX, THUMB_GAP_PX, CARD_STRIDE_PX = 80, 16, 60
NEAR_PX = 400  # how far right of the page's heading, or beside its main picture, its buy box may reach


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int
    ink: float = 0.5  # share of the box that is glyph edges: text ~0.45-0.9, a button or input ring less
    framed: bool = False  # drawn inside a frame (input, select, button, chip): a control, never a heading
    tinted: bool = False  # on a band of colour unlike the page's (banners, bars): emphasised by the shop

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def inside(self, other: Box, slack: int = 2) -> bool:
        return (self.left >= other.left - slack and self.right <= other.right + slack
                and self.top >= other.top - slack and self.bottom <= other.bottom + slack)

    @property
    def cost(self) -> float:
        """Recognition work: LSTM time grows with the line's length at normalised height."""
        return self.width / max(self.height, 1)


def inside_frame(gray: np.ndarray, b: Box, border: int = 3) -> Box | None:
    """A framed control's text: its box without the frame, cut after the first run of ink (a select box's chosen
    option, not the arrow at its far end nor the blank between them, which would cost reading for nothing); None
    when nothing is written inside (an empty input)."""
    top, bottom = b.top + border, max(b.bottom - border, b.top + border + 1)
    left, right = b.left + border, max(b.right - border, b.left + border + 1)
    grad = cv2.morphologyEx(gray[top:bottom, left:right], cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    inked = grad > INK_THRESHOLD
    cols = np.flatnonzero(inked.any(axis=0))
    if not cols.size:
        return None
    # the text's rows only: the reader crops a line with two rows more above and below, which must not take in
    # the frame (in a strip of several lines, tesseract read a select's text with its frame's top edge as nothing)
    rows = np.flatnonzero(inked.any(axis=1))
    top, bottom = top + int(rows[0]), top + int(rows[-1]) + 1
    end = int(cols[0])
    for c in cols[1:].tolist():
        if c - end > 1.5 * (bottom - top):  # a gap wider than a word space: the text has ended
            break
        end = c
    left, right = left + max(int(cols[0]) - 2, 0), min(left + end + 3, right)
    return Box(left, top, right - left, bottom - top, b.ink, framed=True)


# a frame's top edge: one run of ink across this share of its box, and this many times the box's height (a select
# showing a short option, "Red", is ~2.5 heights wide; a text row's runs end at its letters' gaps)
FRAME_EDGE_SHARE, FRAME_EDGE_HEIGHTS = 0.5, 2.0


def label_on_frame(gray: np.ndarray, b: Box) -> tuple[Box, Box] | None:
    """(label, control) of a framed box that is a control with its label drawn on its frame: the label's descenders
    ("Order by") touch the frame's top edge, or a label left of the frame ("Sort [Top rated]") is a closing's reach
    from it, so the line finder found the two as one box. The frame's top edge is the first row inked in one run
    across most of the box (a text row has gaps between its letters); the run's extent is the frame's, and the ink
    above it or left of it is the label. None when the frame is the whole box (a select, an input, a chip)."""
    grad = cv2.morphologyEx(gray[b.top:b.bottom, b.left:b.right], cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    inked = grad > INK_THRESHOLD
    edge = next(((r, *run) for r, row in enumerate(inked)
                 if (run := _longest_run(row))[1] >= max(FRAME_EDGE_SHARE * b.width, FRAME_EDGE_HEIGHTS * b.height)),
                None)
    if edge is None:
        return None
    top, left, width = edge
    if b.height - top < 2 * MIN_LINE_PX:
        return None
    label_ink = inked.copy()
    label_ink[max(top - 1, 0):, max(left - 1, 0):left + width + 1] = False  # the frame and the gradient's spread of it
    rows, cols = np.flatnonzero(label_ink.any(axis=1)), np.flatnonzero(label_ink.any(axis=0))
    if rows.size == 0 or rows[-1] - rows[0] + 1 < MIN_LINE_PX:
        return None
    if not (rows[-1] < top or cols[-1] < left):
        return None  # ink beside the frame's top edge and below it too: no label, something else (a chip's tail)
    label = Box(b.left + int(cols[0]), b.top + int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1),
                b.ink)
    return label, Box(b.left + left, b.top + top, width, b.height - top, b.ink, framed=True)


def _longest_run(row: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in `row`."""
    steps = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)
    if not starts.size:
        return 0, 0
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i] - starts[i])


def to_gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def find_lines(gray: np.ndarray, rings: list[Box] | None = None) -> tuple[list[Box], list[Box]]:
    """(text line boxes, picture boxes) of a grayscale screenshot. Given `rings`, the line-high components with too
    little ink for text are added to it (framed): a form control's frame, with its label when that touches it."""
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    ink = (grad > INK_THRESHOLD).astype(np.uint8)
    joined = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((3, 9), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    words: list[Box] = []
    pictures: list[Box] = []
    narrow: list[Box] = []
    pieces: list[Box] = []
    for x, y, w, h, area in stats[1:]:
        box = Box(int(x), int(y), int(w), int(h))
        if h >= PICTURE_MIN_PX and w >= PICTURE_MIN_PX:
            if (split := _text_rows(ink, box)) is not None:
                words.extend(split)  # a big heading wrapped onto two lines set close together
            else:
                pictures.append(box)
        elif h >= 28 and w < 1.3 * h:
            if h <= MAX_LINE_PX:
                narrow.append(box)  # an icon or thumbnail, unless it ends a line of text (below)
            elif h >= PICTURE_MIN_PX:
                pieces.append(box)  # maybe a part of a picture's object (below)
            continue
        elif MIN_LINE_PX <= h <= MAX_LINE_PX and w >= 6:
            if area >= 0.35 * w * h:
                words.append(box)  # thin rings (input borders, card outlines) have far less ink than text
            elif rings is not None:
                rings.append(Box(box.left, box.top, box.width, box.height, round(float(area) / (w * h), 3), True))
    # a short last word of a big heading with a descender ("J3", "Jog") is as tall as it is wide: it belongs
    # to the line when a word of about its height sits a word space beside it, or when it is the line a long
    # heading wrapped onto ("Rowan Haven Headphones" over "J9"), else it is an icon
    words.extend(n for n in narrow if any(_beside(w, n) or _wrapped_under(w, n) for w in words))
    integral = cv2.integral(ink)
    page_bg = page_background(gray)
    lines = []
    for b in _merge_words(words, {w for w in words if _bordered(ink, w)}):
        total = (integral[b.bottom, b.right] - integral[b.top, b.right] - integral[b.bottom, b.left]
                 + integral[b.top, b.left])
        # a frame's top and bottom edges are ink almost all along; a text line's are only ascenders/descenders
        framed = bool(ink[b.top:b.top + 2, b.left:b.right].mean() > 0.5
                      and ink[b.bottom - 2:b.bottom, b.left:b.right].mean() > 0.5) or _bordered(ink, b)
        mid = slice(b.top + b.height // 4, b.bottom - b.height // 4 + 1)
        sides = [gray[mid, max(0, b.left - 7):max(0, b.left - 2)], gray[mid, b.right + 2:b.right + 7]]
        tinted = all(side.size and abs(float(np.median(side)) - page_bg) > 8 for side in sides)
        lines.append(Box(b.left, b.top, b.width, b.height, round(float(total) / (b.width * b.height), 3),
                         framed, tinted))
    pictures += pieces_of_one_object(pieces)
    # a "picture" holding several lines of text is a panel or a card outline, not a product image
    pictures = [p for p in pictures if sum(b.inside(p) for b in lines) <= 3]
    return lines, pictures


def pieces_of_one_object(pieces: list[Box]) -> list[Box]:
    """Pictures made of tall narrow pieces side by side: an object drawn in parts on a backdrop too faint to
    join them (a pair of earbuds, a headband cut by a sticky masthead, a pair of shoes) is several components,
    each narrower than a picture. Pieces whose rows overlap almost wholly, at most their height apart, are one
    picture when together they are picture-wide. Hairlines (a column's rule) are no object's part."""
    groups: list[Box] = []
    for p in sorted((p for p in pieces if p.width >= 8), key=lambda p: p.left):
        last = groups[-1] if groups else None
        if last is not None and 0 <= p.left - last.right <= min(p.height, last.height) and \
                min(p.bottom, last.bottom) - max(p.top, last.top) >= 0.8 * max(p.height, last.height):
            top, bottom = min(p.top, last.top), max(p.bottom, last.bottom)
            groups[-1] = Box(last.left, top, max(p.right, last.right) - last.left, bottom - top)
        else:
            groups.append(p)
    return [g for g in groups if g.width >= PICTURE_MIN_PX and g not in pieces]


def page_background(gray: np.ndarray) -> int:
    """The page's background tone: what fills the frame's left and right edges (the margins around a shop's
    content), else the frame's most common tone. Not the frame's most common tone first: a page of white
    cards on a cream page is about as much white as cream, and which wins flips with whether the cards'
    pictures are painted yet (a frame captured while images load), turning every band of the page's own
    colour into a "tinted" one."""
    edges = np.concatenate([gray[::2, :MARGIN_PX].ravel(), gray[::2, -MARGIN_PX:].ravel()])
    counts = np.bincount(edges, minlength=256)
    mode = int(counts.argmax())
    if counts[max(0, mode - 3):mode + 4].sum() >= 0.5 * edges.size:
        return mode
    return int(np.bincount(gray[::4, ::4].ravel(), minlength=256).argmax())


def _beside(word: Box, glyph: Box) -> bool:
    gap = max(glyph.left - word.right, word.left - glyph.right)
    overlap = min(word.bottom, glyph.bottom) - max(word.top, glyph.top)
    return 0 <= gap <= max(word.height, 10) and overlap >= 0.6 * word.height and word.height >= 0.6 * glyph.height


def _wrapped_under(word: Box, glyph: Box) -> bool:
    """`glyph` starts the line under `word`, a heading's word of about its height: left edges aligned (a round or
    hooked first letter sits a few pixels off), less than a line's height between them."""
    return (word.height >= 20 and abs(glyph.left - word.left) <= max(8, 0.25 * word.height)
            and 0 <= glyph.top - word.bottom <= word.height and 0.8 <= glyph.height / word.height <= 1.5)


def _text_rows(ink: np.ndarray, b: Box) -> list[Box] | None:
    """The lines of a picture-sized component that is really a block of text lines touching through their
    descenders and capitals (closing joins rows 3 px apart), else None. Split at the rows with almost no ink:
    every piece must be a text line; a picture has pieces that are not (its frame, its object)."""
    rows = ink[b.top:b.bottom, b.left:b.right].mean(axis=1)
    empty = rows < 0.01
    pieces, start = [], None
    for i, blank in enumerate([*empty, True]):
        if not blank and start is None:
            start = i
        elif blank and start is not None:
            pieces.append((start, i))
            start = None
    if len(pieces) < 2 or not all(MIN_LINE_PX <= end - top <= MAX_LINE_PX for top, end in pieces):
        return None
    out = []
    for top, end in pieces:
        cols = np.flatnonzero(ink[b.top + top:b.top + end, b.left:b.right].any(axis=0))
        out.append(Box(b.left + int(cols[0]), b.top + top, int(cols[-1] - cols[0] + 1), end - top))
    return out


def _bordered(ink: np.ndarray, b: Box) -> bool:
    """A row of chips or buttons: from top to bottom, a border (ink across much of the box), the padding
    inside it (almost none), the labels, padding again, the bottom border. A text line, even in capitals,
    has at most two dense bands (the tops and the feet of its letters) with its stems between."""
    if b.height < 26:  # border + padding + label + padding + border: a control is never shorter
        return False
    rows = ink[b.top:b.bottom, b.left:b.right].mean(axis=1)
    peak = float(rows.max())
    if peak <= 0.4:
        return False
    kinds = ["H" if v > 0.5 * peak else "L" if v < 0.26 * peak else "" for v in rows]
    bands: list[str] = []
    i = 0
    while i < len(kinds):
        j = i
        while j < len(kinds) and kinds[j] == kinds[i]:
            j += 1
        # padding is a few rows deep; the gaps inside letters ("T47": under the T's bar) are thinner
        kind = kinds[i] if kinds[i] == "H" or (kinds[i] == "L" and j - i >= 3) else ""
        if kind and (not bands or bands[-1] != kind):
            bands.append(kind)
        i = j
    return "".join(bands).strip("L").count("H") >= 3


def _merge_words(words: list[Box], controls: set[Box] | frozenset[Box] = frozenset()) -> list[Box]:
    """Join word boxes on the same text line that are a word space apart (columns stay separate). A control
    (`controls`: a select box, a filter chip, a button) is a line of its own: a sidebar's select box merged with
    the price-filter chip beside it made one line that read as neither."""
    lines: list[list[int]] = []  # [left, top, right, bottom, 1 if a control]
    for b in sorted(words, key=lambda b: b.left):
        control = b in controls
        for ln in lines:
            gap = b.left - ln[2]
            if gap < 0 or gap > 70 or ln[3] <= b.top or ln[1] >= b.bottom or control or ln[4]:
                continue  # cheap rejections first: this loop runs for every word
            lh = ln[3] - ln[1]
            h = min(lh, b.height)
            overlap = min(ln[3], b.bottom) - max(ln[1], b.top)
            if overlap >= 0.55 * h and gap <= max(1.1 * h, 10) and 0.5 <= b.height / lh <= 2.0:
                ln[0], ln[1] = min(ln[0], b.left), min(ln[1], b.top)
                ln[2], ln[3] = max(ln[2], b.right), max(ln[3], b.bottom)
                break
        else:
            lines.append([b.left, b.top, b.right, b.bottom, int(control)])
    return sorted((Box(a, t, r - a, btm - t) for a, t, r, btm, _ in lines), key=lambda b: (b.top, b.left))


def _within_budget(boxes: list[Box], budget: float) -> list[Box]:
    out, spent = [], 0.0
    for b in boxes:
        if spent + b.cost <= budget:
            out.append(b)
            spent += b.cost
    return out


def choose_lines(lines: list[Box], pictures: list[Box], profile: ShopProfile, panel_left: int | None,
                 width: int, known: frozenset[Box] | set[Box] = frozenset(), masthead: int = 0,
                 dialog: tuple[int, int, int, int] | None = None) -> list[Box]:
    """The lines worth reading, most important first, within the profile's read budget. Lines in `known`
    were read before with exactly these pixels (the reader reuses their text), so they cost nothing.
    `masthead`: where the shop's masthead ends (masthead.py); 0 when none is in sight. `dialog`: (left, top,
    right, bottom) of a banner pinned over the page's bottom (overlays.py): its lines are read last."""
    return plan_reading(lines, pictures, profile, panel_left, width, known, masthead, dialog)[0]


def plan_reading(lines: list[Box], pictures: list[Box], profile: ShopProfile, panel_left: int | None,
                 width: int, known: frozenset[Box] | set[Box] = frozenset(), masthead: int = 0,
                 dialog: tuple[int, int, int, int] | None = None, probe: bool = True) -> tuple[list[Box], int]:
    """(`choose_lines`'s lines, how many at their head were chosen only to look for our panel's heading). `probe`:
    whether to look for it while `panel_left` is unknown (not when `RegionReader._find_panel` looked already)."""
    # text outside the pictures, and not a sliver of a line cut by the masthead's edge: under a sticky header,
    # what shows of it is no taller than the page's text (the bottom half of a big title is body-sized), reads as
    # garbage and looks long (a line's cost is its width over its height); a title with just its tops hidden, still
    # heading-sized, is read
    typical = median_height(lines) or 0
    outside = [b for b in lines if not any(b.inside(p) for p in pictures)]
    slivers = [b for b in outside if b.top < masthead - 1 < b.bottom and b.height < BIG_OF_BODY * typical]
    visible = [b for b in outside if b not in slivers]
    body = [b for b in visible if b not in known]
    if dialog is not None:
        left, top, right, bottom = dialog
        over = Box(left, top, right - left, bottom - top)
        banner = [b for b in body if b.inside(over)]
        body = [b for b in body if b not in banner]
    else:
        banner = []
    main = [b for b in body if panel_left is None or b.left < panel_left]
    if not main:
        return _within_budget(sorted(banner, key=lambda b: (-b.height, b.top)), profile.read_budget), 0
    menu = set(menu_rows(main))  # a menu bar's links: neither a probe for our panel nor a promotion
    chosen: list[Box] = []
    spent = 0.0

    def take(box: Box) -> bool:
        """Whether `box` was newly chosen (and its cost spent)."""
        nonlocal spent
        if box not in chosen and spent + box.cost <= profile.read_budget:
            chosen.append(box)
            spent += box.cost
            return True
        return False

    if panel_left is None and probe:
        # Finding the panel is a once-per-shop cost, so it does not eat into what this page's own content may spend.
        chosen.extend(panel_probes(body, width, masthead, menu))  # (body is main: no panel known)
    probes = len(chosen)
    anchors = [b for b in main if not b.framed and b.ink >= ANCHOR_MIN_INK] or main
    tall = max((b.height for b in anchors), default=0)
    # big: near the tallest, and clearly above the page's body text (spec rows, a search field's placeholder:
    # body text, however short the tallest line is once a row of chips no longer counts as text)
    body_px = median_height(main)
    big = sorted((b for b in anchors if b.height >= max(BIG_OF_TALLEST * tall, BIG_OF_BODY * body_px)),
                 key=lambda b: (-b.height, b.top)) or sorted(anchors, key=lambda b: (-b.height, b.top))[:1]
    for b in big[:4]:
        take(b)
    # the next tallest emphasised line: a product title set barely above the body text
    # (against the whole page's body text: lines read before, the navigation's, are body text too)
    page_px = median_height([b for b in visible if panel_left is None or b.left < panel_left])
    emphasis_px = max(EMPHASIS_OF_TALLEST * tall, EMPHASIS_OF_BODY * page_px)
    emphasised = [b for b in anchors if b.height >= emphasis_px and b not in chosen]
    for b in sorted(emphasised, key=lambda b: (-b.height, b.top))[:1]:
        take(b)
    # the lines leading the page below the masthead: set clearly above the body text, and no line above them
    # taller (a product title, a brand word over it, its price when the title is barely bigger). Read even when
    # taller rows (chips, stars) took the slots above, and whatever their ink: a big bold title's strokes are
    # mostly inside its edges (measured 0.34-0.37, under ANCHOR_MIN_INK)
    tallest_above = emphasis_px
    leads = []
    for b in sorted((b for b in main if not b.framed and not b.tinted and below(b, masthead)),
                    key=lambda b: (b.top, b.left)):
        if b.height >= tallest_above:
            leads.append(b)
        tallest_above = max(tallest_above, b.height)
    for b in leads[:3]:
        take(b)
    # text on a band of its own colour (a promotion, a notice) is what the shop wants seen: up to
    # TINTED_SHARE of the budget, biggest first (a line chosen already, e.g. our panel's heading on its own
    # tint read for free above, costs this share nothing)
    tinted_spent = 0.0
    # (not a menu bar's links: a row of them on one band is navigation, read by size with the rest)
    tinted = [b for b in main if b.tinted and not b.framed and b not in chosen and b not in menu]
    for b in sorted(tinted, key=lambda b: (-b.height, b.top))[:3]:
        if tinted_spent + b.cost <= TINTED_SHARE * profile.read_budget and take(b):
            tinted_spent += b.cost
    # the block around the page's main heading: the longest line near the tallest below the masthead (a
    # product title is longer than its price or the swatches beside it), set above the body text when any is:
    # with a title barely above the body text every body line is "near the tallest", and the longest of them
    # is a description paragraph, whose neighbours (specs, reviews) then took the budget the price needed
    # The lines leading the page are headings too, whatever their ink (a big bold title's is low): else a
    # section heading further down ("Details", "Reviews") was the only candidate and the block read its section
    tallish = [b for b in anchors if b.height >= 0.7 * tall]
    below_masthead = [b for b in tallish if below(b, masthead)] or tallish
    # With none set above the body text (a title without descenders, its box barely taller than body lines
    # with them), the heading is still among the tallest lines, never any body line: the longest of those, a
    # description paragraph, became the centre and its section took the budget the price beside the title needed
    top_px = max((b.height for b in below_masthead), default=0)
    headings = ([b for b in below_masthead if b.height >= emphasis_px]
                or [b for b in below_masthead if b.height >= top_px])
    headings += [b for b in leads[:3] if b not in headings]
    focus = max(headings, key=lambda b: b.cost) if headings else None
    # A heading below the page's main picture heads a section ("Details", "Reviews"), not the buy box: a page
    # scrolled past its title shows no heading of the product, and the block read around that section heading
    # (specs, description) spent the budget. The buy box is then beside the picture (image left or right): the
    # lines from the masthead down to the biggest picture's bottom beside it are read first, top first (from the
    # masthead, not the picture's top: the picture found may be its object alone, and the brand and price above it).
    body_pictures = [p for p in pictures if (panel_left is None or p.left < panel_left)
                     and p.width * p.height >= MAIN_PICTURE_PX ** 2]
    pic = max(body_pictures, key=lambda p: p.width * p.height, default=None)
    # So too when a sliver of a line beside the picture is cut by the masthead: the page is scrolled past its title,
    # and the longest line left in the buy box ("Also available in ...") is no heading to read around.
    if pic is not None and (focus is None or focus.top >= pic.bottom
                            or any(0 <= b.left - pic.right <= NEAR_PX for b in slivers)):
        # (beside it: a buy box right of the picture starts within NEAR_PX of it, a column further off is our panel's
        # cards on a first page read before its heading tells where the panel starts; left of it, the page's column,
        # whose short lines end far from it)
        # (not a menu bar's links over the picture: navigation, not the buy box)
        level = [b for b in main if below(b, masthead) and b.top + b.height / 2 <= pic.bottom and b not in menu
                 and (0 <= b.left - pic.right <= NEAR_PX or b.right <= pic.left)]
        for b in sorted(level, key=lambda b: (b.top, b.left)):
            take(b)
    if focus is not None:
        near = [b for b in main if focus.top - profile.focus_above * focus.height <= b.top
                <= focus.bottom + profile.focus_below * focus.height and b.right > focus.left - 40
                and b.left < focus.right + NEAR_PX]
        # nearest first; what is above the heading (navigation, breadcrumb) counts as twice as far
        for b in sorted(near, key=lambda b: b.top - focus.top if b.top >= focus.top else 2 * (focus.top - b.top)):
            take(b)
    # the rest by size, a menu bar's links last: navigation says nothing of the page in view, and on a shop's first
    # frame (new, not yet read for free) they took the budget a product page's stock line or price needed
    for b in sorted(main, key=lambda b: (b in menu, -b.height, b.top)):
        take(b)
    for b in sorted(banner, key=lambda b: (-b.height, b.top)):
        take(b)
    return chosen, probes


def panel_probes(lines: list[Box], width: int, masthead: int, menu: set[Box] | None = None) -> list[Box]:
    """The lines to read first, until our panel's heading has been read, to find it: the top two on the right (below
    the masthead, whose cart and account links sit on the right too; not a menu bar's links: `menu`, else found)."""
    menu = set(menu_rows(lines)) if menu is None else menu
    side = (b for b in lines if _on_right(b, width) and b.height >= 14 and below(b, masthead) and b not in menu)
    return sorted(side, key=lambda b: b.top)[:2]


def cards_beside_thumbnails(gray: np.ndarray, lines: list[Box]) -> bool:
    """Whether `lines` show cards like our panel's: two or more of them start at one x, each just right of a
    thumbnail, and a card apart. Evidence that a column is ours, not the shop's own content (a buy box beside a wide
    gallery, specifications): their lines sit beside a big picture or nothing, never a row of small ones."""
    beside = [b for b in lines if _right_of_thumbnail(gray, b)]
    return any(abs(a.left - b.left) <= 4 and b.top - a.top >= CARD_STRIDE_PX for a in beside for b in beside)


def _right_of_thumbnail(gray: np.ndarray, b: Box) -> bool:
    """A thumbnail just left of line `b`: on the line's rows, something set off from the tone of the gap before the
    text (a small picture: its object, or its backdrop) within THUMB_MAX_PX of the text, with that tone on both sides
    of it: the gap, and a stretch of the tone left of it (not a wide picture's edge; a border is one column)."""
    strip = gray[b.top:b.bottom, max(0, b.left - THUMB_MAX_PX - 2 * THUMB_GAP_PX):b.left].astype(np.int16)
    if strip.shape[1] < THUMB_MAX_PX + 2 * THUMB_GAP_PX:
        return False
    tone = np.median(strip[:, -3:])
    # per column, right to left from the text: any of its pixels set off (an object narrower than its thumbnail)
    # (past the few columns the text's own edge blurs into)
    marked = np.flatnonzero(((np.abs(strip - tone) >= 4).mean(axis=0) >= 0.15)[::-1][5:]) + 5
    thumb = marked[marked <= THUMB_MAX_PX]
    if len(thumb) == 0 or thumb[-1] - thumb[0] < THUMB_GAP_PX // 2:
        return False
    return np.count_nonzero((marked > thumb[-1]) & (marked <= thumb[-1] + THUMB_GAP_PX)) <= 2


def _on_right(b: Box, width: int) -> bool:
    """Starts in the frame's right part, where our panel sits (a page's own column starts left of it)."""
    return b.left > SIDE_SHARE * width


def menu_rows(lines: list[Box], min_items: int = MENU_MIN_ITEMS) -> list[Box]:
    """The tinted lines that sit in a row of at least `min_items` tinted lines level with each other: a menu bar's
    links (categories on a band across the page), not a promotion or a notice, which is one line on its band."""
    tinted = [b for b in lines if b.tinted]
    out = []
    for b in tinted:
        level = [o for o in tinted if abs((o.top + o.bottom) - (b.top + b.bottom)) <= max(b.height, o.height) // 2]
        if len(level) >= min_items:
            out.append(b)
    return out


def recognise(gray: np.ndarray, boxes: list[Box], target_px: int) -> list[tuple[Box, OcrLine]]:
    """OCR the boxes in one call: each rescaled to target_px tall, dark on white, stacked in a strip.
    Returns (box, line) for every box where text was found."""
    if not boxes:
        return []
    crops, slots = [], []
    y = PAD
    for b in boxes:
        t, btm = max(0, b.top - 2), min(gray.shape[0], b.bottom + 2)
        left, right = max(0, b.left - 3), min(gray.shape[1], b.right + 3)
        crop, height = gray[t:btm, left:right], b.height
        if b.framed and (band := _text_band(crop)) is not None:
            top, height = band
            t, crop = t + top, crop[top:top + height + 4]
        scale = min(3.0, max(0.5, target_px / max(height, 1)))
        crop = cv2.resize(crop, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        crop = _normalised(crop)
        crops.append(crop)
        slots.append((y, y + crop.shape[0], scale, left, t, b))
        y += crop.shape[0] + GAP
    strip = np.full((y + PAD, max(c.shape[1] for c in crops) + 2 * PAD), 255, np.uint8)
    for crop, (y0, y1, *_rest) in zip(crops, slots, strict=True):
        strip[y0:y1, PAD:PAD + crop.shape[1]] = crop
    words: dict[int, list[tuple[int, int, int, int, float, str]]] = {}
    for row in tesslib.recognize_tsv(strip).splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            wl, wt, ww, wh = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            continue
        mid = wt + wh / 2
        for i, (y0, y1, scale, ox, oy, _b) in enumerate(slots):
            if y0 - GAP / 2 <= mid < y1 + GAP / 2:
                words.setdefault(i, []).append((round((wl - PAD) / scale) + ox, round((wt - y0) / scale) + oy,
                                                round(ww / scale), round(wh / scale), conf, cols[11].strip()))
                break
    out = []
    for i, ws in words.items():
        ws.sort(key=lambda w: w[0])
        box = slots[i][5]
        left = min(w[0] for w in ws)
        # the line box's height, the same measure as the page's median text height the reader reports, so
        # "clearly taller than the body text" compares like with like (word boxes are tighter than lines)
        out.append((box, OcrLine(text=" ".join(w[5] for w in ws), conf=sum(max(w[4], 0.0) for w in ws) / len(ws),
                           height=float(box.height),
                           left=left, top=box.top, width=max(w[0] + w[2] for w in ws) - left)))
    return out


def _text_band(crop: np.ndarray) -> tuple[int, int] | None:
    """(top of the crop's rows to read less 2 px, the text's height) when a control's text is much shorter than
    its box: a filled chip ("Brand: Kestrel x", "Colour: Black x") is twice as tall as its words, and scaled by
    the box its words came out half the size of the lines stacked with them, which tesseract then read as
    nothing (the boutique's brand and colour chips were lost whenever bigger lines shared the strip). None when
    the text fills the box (a select or input with its frame drawn in ink: nothing to cut)."""
    ink = _normalised(crop) < 128
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0 or rows[-1] - rows[0] + 1 >= FRAMED_TEXT_SHARE * (crop.shape[0] - 4):
        return None
    return max(0, int(rows[0]) - 2), int(rows[-1] - rows[0]) + 1


def _normalised(crop: np.ndarray) -> np.ndarray:
    """A line's crop as tesseract reads it best: dark text on white, the page around a control whitened, filled chips
    inside it turned dark on light too."""
    return _lift_fills(_clear_margin(_dark_on_light(crop)))


def _dark_on_light(crop: np.ndarray) -> np.ndarray:
    """The crop as dark text on a white background at full contrast. Most of a text line's pixels are its
    background, so the median is the background's tone: nearer the darkest end than the lightest, the text
    is the lighter (white on a dark bar, or on a mid-tone accent button, which a fixed gray cut misses)."""
    lo, med, hi = (float(v) for v in np.percentile(crop, (2, 50, 98)))
    if hi - lo < 24:
        return crop  # no text to speak of: leave it as it is
    if med - lo < hi - med:
        crop, lo, hi = 255 - crop, 255 - hi, 255 - lo
    return np.clip((crop.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def _clear_margin(crop: np.ndarray) -> np.ndarray:
    """A control's crop with the page around it whitened. A filled chip or button on a light page turns, made
    dark on light, into a white pill in a black frame, and tesseract skips a line framed in black as a picture
    (the boutique's "Price: $135.00 - $145.00" filter chip was never read). Only when the crop's edge is mostly
    dark: an ordinary line's edge is its background, which dark on light is white."""
    edge = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
    if float(np.median(edge)) >= 128:
        return crop
    _, labels = cv2.connectedComponents((crop < 128).astype(np.uint8), connectivity=4)
    touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    out = crop.copy()
    out[np.isin(labels, touching[touching > 0])] = 255
    return out


def _lift_fills(crop: np.ndarray) -> np.ndarray:
    """The crop with each filled chip or button inside it turned dark on light. A dark fill (a box at least most
    of the line tall, twice as wide, mostly ink, clear of the crop's edge: no glyph is) holding light text,
    beside dark text on the light page, leaves the line's two parts in opposite polarities: the part on the
    fill, the boutique's "Brand: Tundra" chip beside its "Clear all" link, read as nothing. Inverted within the
    fill's outline (its glyph holes included), both parts are dark on light."""
    h, w = crop.shape
    n, labels, stats, _ = cv2.connectedComponentsWithStats((crop < 128).astype(np.uint8), connectivity=4)
    out = crop
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if bh < 0.6 * h or bw < 2 * bh or area < 0.5 * bw * bh or x == 0 or y == 0 or x + bw == w or y + bh == h:
            continue
        # the fill with its holes: whatever in its box the box's edge cannot reach without crossing the fill
        _, around = cv2.connectedComponents((labels[y:y + bh, x:x + bw] != i).astype(np.uint8), connectivity=4)
        edge = np.unique(np.concatenate([around[0], around[-1], around[:, 0], around[:, -1]]))
        inside = ~np.isin(around, edge[edge > 0])
        out = out.copy() if out is crop else out
        box = out[y:y + bh, x:x + bw]
        box[inside] = 255 - box[inside]
    return out


# ------------------------------------------------------------------ colour from pixels


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)


def picture_colour(rgb: np.ndarray, picture: Box, palette: dict[str, tuple[int, int, int]]) -> str | None:
    """The named colour of the object in a picture: the pixels inside its flat regions quantised to the
    palette, the picture's own background (the colour of most of its corners) left out.

    Only pixels whose neighbourhood is flat count: outlines, print and anti-aliased edges are thin, the
    object's own colour fills an area. The box found by edges is either the whole picture, reaching a pixel
    or two past it (onto a dark page, say), or the object's silhouette on a faint backdrop: a few pixels
    inside its corners is the backdrop either way (a silhouette rarely fills three corners of its box)."""
    if not palette:
        return None
    inset = 4
    t, b = picture.top + inset, picture.bottom - inset
    left, r = picture.left + inset, picture.right - inset
    if b - t < 20 or r - left < 20:
        return None
    region = rgb[t:b, left:r]
    gray = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    edges = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8))
    flat = (edges < 24)[::2, ::2].reshape(-1)
    crop = region[::2, ::2].reshape(-1, 3)
    names = list(palette)
    ref = _lab(np.array([palette[n] for n in names]))
    corners = np.concatenate([region[:3, :3], region[:3, -3:], region[-3:, :3], region[-3:, -3:]]).reshape(-1, 3)
    bg = _lab(np.median(corners, axis=0, keepdims=True))[0]
    lab = _lab(crop)
    keep = (np.linalg.norm(lab - bg, axis=1) > 6.0) & flat
    if keep.sum() < 50:
        return None
    dist = np.linalg.norm(lab[keep][:, None, :] - ref[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    close = dist[np.arange(len(nearest)), nearest] < 30.0
    counts = np.bincount(nearest[close], minlength=len(names))
    order = np.argsort(-counts)
    if counts[order[0]] == 0:
        return None
    return names[order[0]]


class RegionReader:
    """One for every session (like the Grounder, sharing its PanelGeometry): remembers per session where our
    panel starts once its heading was read, and the text of lines already read, keyed by their exact pixels
    and position (the header, navigation and banners repeat on every page: read once, then free; the same
    pixels read the same in any session)."""

    def __init__(self, profile: ShopProfile, panels: PanelGeometry | None = None):
        self.profile = profile
        self.panels = panels or PanelGeometry()
        self._panel_re = profile.regex("panel_cues")
        self._memo: dict[tuple, OcrLine | None] = {}

    @property
    def panel_left(self) -> int | None:
        """The panel's left edge in the default session (a caller reading one shop passes no session)."""
        return self.panels.get("")

    def _find_panel(self, gray: np.ndarray, lines: list[Box], pictures: list[Box], keys: dict[Box, tuple],
                    session: str) -> int | None:
        """Where our panel starts in this frame, read off the lines on the right (`panel_probes`) before the frame's
        reading is planned: on a shop's first frame the plan did not know it, and spent the budget on our panel's
        cards beside the buy box (and took their titles, brands and prices for the page's). Its heading in sight: the
        panel's edge, remembered for the session, and the probes' text too (then free). Out of sight (a page scrolled
        past it) with our cards' shape on the right (`cards_beside_thumbnails`): the probes are our panel's cards, and
        the right side's column from its leftmost box (a card's thumbnail, the panel's closing words left of the
        cards' text) is the panel's for this frame only, left unread; nothing is remembered. Without them the right
        side is the shop's own (our panel elsewhere or not shown): None, the probes' text kept as the page's. None
        too when there is nothing on the right to look at."""
        masthead = masthead_bottom(gray, lines)
        probes = panel_probes(lines, gray.shape[1], masthead)
        if not probes:
            return None
        read = dict(recognise(gray, [b for b in probes if keys[b] not in self._memo], self.profile.target_line_px))
        texts = [read[b] if b in read else self._memo.get(keys[b]) for b in probes]
        heading = next((ln for ln in texts if ln is not None and ln.left > 200 and self._panel_re.search(ln.text)),
                       None)
        if heading is None:
            side = [b for b in (*lines, *pictures) if _on_right(b, gray.shape[1]) and below(b, masthead)]
            if not cards_beside_thumbnails(gray, [b for b in side if b in keys]):
                # no card of ours in sight: the right side is the shop's own (a buy box beside a wide gallery, its
                # specifications; our panel elsewhere or not shown), read as the page's: the probes' text is kept
                self._memo.update((keys[b], read.get(b)) for b in probes if keys[b] not in self._memo)
                return None
            return min(b.left for b in side) - PANEL_PAD
        self.panels.set(session, heading.left - PANEL_PAD)
        self._memo.update((keys[b], read.get(b)) for b in probes if keys[b] not in self._memo)
        return heading.left - PANEL_PAD

    @staticmethod
    def _key(gray: np.ndarray, b: Box) -> tuple:
        crop = gray[b.top:b.bottom, b.left:b.right]
        return b.left, b.top, b.width, b.height, hashlib.blake2b(crop.tobytes(), digest_size=12).digest()

    def read(self, image: Image.Image, session: str = "") -> tuple[list[OcrLine], str | None, float | None, int]:
        """(OCR lines of the chosen regions, colour of the biggest picture in the page body, median height of
        all the page body's text lines, read or not, where the masthead ends). `session` keys the panel's
        remembered position."""
        panel_left = self.panels.get(session)
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rings: list[Box] = []
        lines, pictures = find_lines(gray, rings)
        keys = {b: self._key(gray, b) for b in lines}
        looked = panel_left is None and bool(self._panel_re)
        if looked:
            panel_left = self._find_panel(gray, lines, pictures, keys, session)
        # the shop's lines only: our panel's heading beside a page's title made their row look like a
        # masthead's bar (a logo and, far from it, a cart link), and the title was then left out as the header
        masthead = masthead_bottom(gray, [b for b in lines if panel_left is None or b.left < panel_left])
        known = {b for b, k in keys.items() if k in self._memo}
        chosen, probes = plan_reading(lines, pictures, self.profile, panel_left, gray.shape[1], known, masthead,
                                      bottom_dialog(gray, lines), probe=not looked)
        # labelled form controls beyond the budget (a listing's sort select: sort_order.py), read inside their frames
        controls = sort_order.labelled_controls([*lines, *rings], {*chosen, *known}, panel_left,
                                                lambda b: inside_frame(gray, b), lambda b: label_on_frame(gray, b))
        keys.update({b: self._key(gray, b) for b in controls if b not in keys})
        known |= {b for b in controls if keys[b] in self._memo}
        chosen += [b for b in controls if b not in known]
        fresh = dict(recognise(gray, chosen, self.profile.target_line_px))
        if self._panel_re:
            for ln in sorted((*fresh.values(), *(self._memo.get(keys[b]) for b in known)),
                             key=lambda ln: (ln.top, ln.left) if ln else (0, 0)):
                if ln is not None and ln.left > 200 and self._panel_re.search(ln.text):
                    panel_left = ln.left - PANEL_PAD
                    self.panels.set(session, panel_left)
                    break
        if panel_left is None:
            # Lines read only to look for our panel's heading, which is not in sight: on the right of a page
            # scrolled past that heading they are our panel's cards (a title with its price under it), and one
            # grounded as the viewed product. They are not the page's, and not remembered as read.
            for b in chosen[:probes]:
                fresh.pop(b, None)
            chosen = chosen[probes:]
        if len(self._memo) > CACHE_LINES:
            self._memo.clear()  # pages change slowly; start afresh rather than track recency
        for b in chosen:
            self._memo[keys[b]] = fresh.get(b)
        ocr = [ln for ln in (*fresh.values(), *(self._memo.get(keys[b]) for b in known)) if ln is not None]
        ocr.sort(key=lambda ln: (ln.top, ln.left))
        body = [p for p in pictures if panel_left is None or p.left < panel_left]
        colour = None
        if body:
            biggest = max(body, key=lambda p: p.width * p.height)
            # only a product page uses it (grounding), where the picture is the biggest; a small one is
            # still the product (an image-on-top theme, a silhouette on a faint backdrop)
            if biggest.width * biggest.height >= 80 * 80:
                colour = picture_colour(rgb, biggest, self.profile.colours)
        body_px = median_height([b for b in lines if panel_left is None or b.left < panel_left])
        return ocr, colour, (float(body_px) if body_px is not None else None), masthead


class FrameReader:
    """Screenshot -> Observation with the region reader: what the summarizer's embedded backend calls.

    Shares one shop profile and one PanelGeometry between the region reader and the grounding: one reader
    serves every session, and each session's panel position is its own (pass the tenant/session key)."""

    def __init__(self, catalog, profile: ShopProfile | None = None):
        from .grounding import Grounder
        from .profile import load_profile

        self.profile = profile or load_profile()
        self.panels = PanelGeometry()
        self.grounder = Grounder(catalog, profile=self.profile, panels=self.panels)
        self.regions = RegionReader(self.profile, self.panels)

    def observe(self, image: Image.Image, *, page_url: str = "", frame_seq: int = 0, capture_ms: int = 0,
                session: str = ""):
        lines, colour, body_px, masthead = self.regions.read(image, session)
        lines = privacy.clean_lines(lines)  # no e-mail, phone or card number read off a frame goes further
        return self.grounder.observe(lines, page_url=page_url, frame_seq=frame_seq, capture_ms=capture_ms,
                                     picture_colour=colour, body_text_px=body_px, masthead_px=masthead,
                                     session=session)
