"""Region-reader rules that shops we did not design need (services/core/reading/reader.py), on synthetic
screens drawn with PIL: a wrapped title whose lines touch, a row of bordered colour chips, and a product
picture's colour on a dark page."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from services.core.reading.profile import load_profile
from services.core.reading.reader import Box, find_lines, picture_colour

BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
REGULAR = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
pytestmark = pytest.mark.skipif(not BOLD.exists(), reason="needs fonts-dejavu-core")


def _gray(img: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)


def test_a_wrapped_title_with_touching_lines_is_two_text_lines_not_a_picture() -> None:
    img = Image.new("RGB", (900, 300), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(BOLD), 40)
    draw.text((30, 40), "Dovetail Canyon Jacketyp", font=font, fill=(30, 30, 30))
    draw.text((30, 72), "T47", font=font, fill=(30, 30, 30))  # a tight line height: descenders meet capitals
    lines, pictures = find_lines(_gray(img))
    assert not [p for p in pictures if p.top < 140]
    tops = sorted((b for b in lines if b.top < 140), key=lambda b: b.top)
    assert len(tops) == 2 and tops[0].width > 3 * tops[1].width


def test_a_row_of_bordered_chips_is_a_control_not_a_heading() -> None:
    scale = 4  # drawn large and scaled down, so borders are anti-aliased as a browser draws them
    img = Image.new("RGB", (900 * scale, 200 * scale), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(REGULAR), 17 * scale)
    x = 30 * scale
    for name in ("Black", "Grey", "Navy", "White"):
        width = int(draw.textlength(name, font=font)) + 26 * scale
        grow = 2 * scale if name == "Grey" else 0  # the selected chip: a thicker border, a little taller
        draw.rounded_rectangle((x, 61 * scale - grow, x + width, 95 * scale + grow), radius=17 * scale,
                               outline=(90, 90, 90), width=scale + grow)
        draw.text((x + 13 * scale, 68 * scale), name, font=font, fill=(30, 30, 30))
        x += width + 6 * scale
    draw.text((30 * scale, 130 * scale), "In stock, ready to ship", font=font, fill=(30, 30, 30))
    img = img.resize((900, 200), Image.LANCZOS)
    lines, _ = find_lines(_gray(img))
    row = max((b for b in lines if b.top < 110), key=lambda b: b.width)
    assert row.framed and row.height >= 30
    assert not any(b.framed for b in lines if b.top > 110)  # plain text stays text


def test_picture_colour_on_a_dark_page_ignores_the_page_and_the_white_dial() -> None:
    page = Image.new("RGB", (600, 500), (18, 18, 18))
    tile = Image.new("RGB", (340, 340), (247, 247, 245))
    draw = ImageDraw.Draw(tile)
    red, outline = (200, 40, 45), (15, 15, 18)
    draw.rectangle((145, 40, 195, 300), fill=red, outline=outline, width=3)  # strap
    draw.ellipse((100, 100, 240, 240), fill=red, outline=outline, width=3)  # case
    draw.ellipse((125, 125, 215, 215), fill=(245, 245, 240), outline=outline, width=2)  # dial
    page.paste(tile, (80, 80))
    box = Box(79, 79, 342, 342)  # an edge-found box reaches a pixel past the picture onto the page
    assert picture_colour(np.asarray(page), box, load_profile().colours) == "Red"
