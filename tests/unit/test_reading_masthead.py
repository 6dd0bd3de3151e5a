"""Where the shop's masthead ends, seen from the frame (services/core/reading/masthead.py), and a product title
just under a sticky header over a scrolled page: it is the page's title, not the masthead's (issue 17: the
fixed 80 px masthead of a 1280x800 frame hid such titles)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from services.common.catalog import Catalog, Product
from services.core.reading.grounding import Grounder
from services.core.reading.masthead import masthead_bottom, text_bar_bottom
from services.core.reading.ocr import OcrLine
from services.core.reading.reader import Box, find_lines

BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
REGULAR = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
fonts = pytest.mark.skipif(not BOLD.exists(), reason="needs fonts-dejavu-core")


def _gray(img: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)


def _scrolled_page(border: tuple[int, int, int] | None, header_bg: str = "white") -> Image.Image:
    """A product page scrolled under a sticky header: the shop's name and a cart link on the header, the
    product's title just below the header's bottom edge."""
    img = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 1279, 65), fill=header_bg)
    if border:
        draw.line((0, 66, 1279, 66), fill=border)
    draw.text((28, 16), "Kite & Co", font=ImageFont.truetype(str(BOLD), 28), fill=(28, 28, 28))
    regular = ImageFont.truetype(str(REGULAR), 17)
    draw.text((1180, 22), "Cart (0)", font=regular, fill=(28, 28, 28))
    draw.text((398, 70), "Halvard Trail Loafers N4", font=ImageFont.truetype(str(BOLD), 26), fill=(28, 28, 28))
    draw.text((398, 180), "105,50 $", font=regular, fill=(28, 28, 28))
    return img


@fonts
@pytest.mark.parametrize("border, header_bg", [((242, 242, 242), "white"), (None, "#2b2621")])
def test_the_masthead_ends_at_the_sticky_headers_edge_not_at_a_fixed_height(border, header_bg) -> None:
    """A faint border under a white header, or a dark header band without one: the masthead ends there (66-67),
    and the title just below it (its middle at ~85, inside the top 80 px the reader used to skip) is below."""
    gray = _gray(_scrolled_page(border, header_bg))
    lines, _ = find_lines(gray)
    end = masthead_bottom(gray, lines)
    assert 66 <= end <= 68
    title = max((b for b in lines if b.top > 60), key=lambda b: b.width)
    assert title.top + title.height / 2 > end and title.top < 80


@fonts
def test_a_header_without_an_edge_ends_with_its_bar_of_text_and_a_lone_top_line_is_no_masthead() -> None:
    img = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(img)
    draw.text((28, 16), "Kite & Co", font=ImageFont.truetype(str(BOLD), 28), fill=(28, 28, 28))
    draw.text((1180, 22), "Cart (0)", font=ImageFont.truetype(str(REGULAR), 17), fill=(28, 28, 28))
    gray = _gray(img)
    lines, _ = find_lines(gray)
    assert 40 <= masthead_bottom(gray, lines) <= 50  # the logo's row, with the cart link far to its right
    # a page scrolled past a header that does not stick: its top line is its own title, not a masthead
    assert text_bar_bottom([Box(398, 4, 440, 30), Box(398, 60, 100, 20)], 800) == 0


ROWS = [("P13788", "Halvard Trail Loafers N4", "Halvard", "Footwear", "Black", 105.5),
        ("P13790", "Halvard Trail Loafers N9", "Halvard", "Footwear", "Navy", 99.0),
        ("P04410", "Velmont Harbor Boots T34", "Velmont", "Footwear", "Brown", 199.0)]


def _line(text: str, top: int, height: float, left: int = 399) -> OcrLine:
    return OcrLine(text=text, conf=92, height=height, left=left, top=top, width=len(text) * 10)


def test_a_title_under_a_sticky_header_grounds_its_page() -> None:
    """What the reader read of a page scrolled 140 px under a sticky header (theme-2): the title at y 65, set
    only 1.2x the body text, one product-page mark ("Buy now"), a row of chips naming other colours. The
    title leads the page below the masthead, so it grounds, whether the reader saw where the masthead ends
    or only the lines are known (the shop's name and its search field far apart: a bar)."""
    catalog = Catalog([Product(product_id=i, title=t, brand=b, category=c, colour=col, price=p, margin=0.3,
                               rating=4.0, review_count=10, description="", specs="", image=f"{i}.png")
                       for i, t, b, c, col, p in ROWS])
    lines = [_line("Kite & Co", 19, 22, left=29), _line("Search", 23, 16, left=769),
             _line("Halvard Trail Loafers N4", 65, 24), _line("by Halvard", 106, 20), _line("105,50 $", 172, 25),
             _line("(Black) (Navy) (Orange ) (Purple )", 260, 37, left=397), _line("Buy now", 384, 19, left=432),
             _line("Versatile loafers in black from Halvard, made for daily use.", 636, 20, left=27)]
    for masthead in (67, None):
        obs = Grounder(catalog).observe(lines, picture_colour="Black", body_text_px=20.0, masthead_px=masthead)
        assert obs.kind == "product" and obs.product_id == "P13788", masthead
        assert obs.colours == ["Black"]
