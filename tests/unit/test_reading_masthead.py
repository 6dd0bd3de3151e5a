"""The reader on theme layouts, from recorded frames and synthetic screens: where the shop's masthead ends,
seen from the frame (services/core/reading/masthead.py; the fixed 80 px masthead of a 1280x800 frame hid a
title just under a sticky header), and the line leading the page below it: read even when taller rows take
the big slots, and a product page's title even when no product-page wording is in sight (issue 17 item 3)."""

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


def test_the_line_leading_the_page_is_read_when_taller_rows_take_the_big_slots() -> None:
    """Line boxes recorded from a real frame (theme-5, a product page scrolled 60 px under a sticky navigation
    bar; our panel right of x 968 left out): the price (24 px) and a row of colour dots (22 px) are taller than
    the title (21 px, body text 17 px), and a long description set at body size comes later. The title is the
    first line below the masthead set clearly above the body text: it must be among the lines read."""
    from services.core.reading.profile import load_profile
    from services.core.reading.reader import choose_lines

    nav = [Box(711, 12, 65, 16, 0.7, False, True), Box(317, 13, 95, 18, 0.61, False, True),
           Box(28, 14, 80, 17, 0.66, False, True), Box(130, 14, 75, 15, 0.699, False, True),
           Box(225, 14, 71, 14, 0.749, False, True), Box(433, 14, 50, 17, 0.611, False, True),
           Box(504, 14, 81, 15, 0.707, False, True), Box(606, 14, 85, 17, 0.66, False, True)]
    title = Box(439, 96, 349, 21, 0.598)
    page = [Box(439, 65, 133, 18, 0.567, True), title, Box(437, 133, 123, 17, 0.477), Box(438, 168, 87, 24, 0.521),
            Box(437, 210, 100, 22, 0.384), Box(437, 255, 270, 17, 0.586), Box(438, 292, 173, 17, 0.563),
            Box(471, 348, 94, 17, 0.616, False, True), Box(29, 468, 88, 20, 0.698), Box(27, 516, 41, 17, 0.681),
            Box(198, 516, 67, 15, 0.658), Box(28, 542, 64, 17, 0.681), Box(198, 542, 33, 14, 0.745, True),
            Box(27, 567, 108, 17, 0.662), Box(198, 567, 102, 14, 0.754), Box(28, 593, 139, 17, 0.664),
            Box(197, 593, 26, 14, 0.772), Box(27, 630, 717, 17, 0.587), Box(29, 673, 104, 21, 0.632),
            Box(28, 721, 280, 18, 0.545), Box(27, 756, 400, 19, 0.539)]
    known = {nav[1], nav[2], nav[5], page[-3]}  # read on earlier pages with the same pixels
    pictures = [Box(27, 58, 382, 382)]
    chosen = choose_lines(nav + page, pictures, load_profile(), 968, 1280, known, masthead=43)
    assert title in chosen


def test_a_page_with_no_wording_cue_in_sight_is_grounded_by_the_title_leading_it() -> None:
    """OCR lines recorded from a real frame (theme-12: picture on top, the buy button under a cookie banner, so
    no product-page wording is in sight): the title, 1.25x the body text, leads the page below the masthead,
    is a catalog title letter for letter, and its price is on the page: a product page."""
    catalog = Catalog([Product(product_id="P87048", title="Wexford Harbor Watch R9", brand="Wexford",
                               category="Watches", colour="Red", price=513.0, margin=0.3, rating=4.3,
                               review_count=0, description="", specs="", image="P87048.png"),
                       Product(product_id="P87049", title="Wexford Harbor Watch R8", brand="Wexford",
                               category="Watches", colour="Blue", price=499.0, margin=0.3, rating=4.1,
                               review_count=3, description="", specs="", image="P87049.png")])
    lines = [_line("Free shipping on orders over $50", 10, 20, 501), _line("Copper Lane", 58, 28, 29),
             _line("Search", 62, 16, 749), _line("BACKPACKS", 114, 20, 29), _line("COOKWARE", 117, 16, 160),
             _line("Home > Watches", 166, 18, 29), _line("Wexford Harbor Watch R9", 502, 25, 29),
             _line("by Wexford", 545, 20, 29), _line("4.3 kk (0)", 571, 21, 28), _line("$513.00 USD", 609, 27, 30),
             _line("Red", 659, 16, 94), _line("We use cookies to improve your experience and to measure traffic.",
                                               713, 21, 22)]
    obs = Grounder(catalog).observe(lines, picture_colour="Red", body_text_px=20.0, masthead_px=147)
    assert obs.kind == "product" and obs.product_id == "P87048" and obs.colours == ["Red"]
    # a card title under the listing's bigger heading does not lead its page
    listing = [_line("Watches", 170, 30, 29), _line("Wexford Harbor Watch R9", 420, 25, 29),
               _line("$513.00 USD", 460, 20, 29)]
    assert Grounder(catalog).observe(listing, body_text_px=20.0, masthead_px=147).product_id is None


def test_a_big_bold_title_leading_the_page_is_read_whatever_its_ink() -> None:
    """Line boxes recorded from a real frame (theme-15, a product page scrolled 60 px under a sticky header): a
    36 px bold title whose edge-ink share is 0.368 (a big bold font's strokes are mostly inside their edges),
    under a letter-spaced brand word; a row of colour dots and a description (22 px) are the tallest lines
    that anchor the reading. The title leads the page (nothing above it is taller): it must be read."""
    from services.core.reading.profile import load_profile
    from services.core.reading.reader import choose_lines

    title = Box(437, 163, 499, 36, 0.368)
    lines = [Box(28, 0, 184, 20, 0.476), Box(791, 0, 48, 11, 0.854, True), Box(28, 48, 90, 15, 0.692, False, True),
             Box(251, 49, 88, 14, 0.731, False, True), Box(561, 49, 98, 13, 0.781, False, True),
             Box(140, 50, 88, 12, 0.875, True, True), Box(360, 50, 106, 13, 0.813, False, True),
             Box(488, 50, 51, 12, 0.801, True, True), Box(681, 50, 102, 12, 0.846, True, True),
             Box(804, 50, 74, 12, 0.861, True, True), Box(28, 94, 134, 17, 0.557), Box(437, 128, 150, 19, 0.59),
             title, Box(439, 211, 95, 16, 0.505), Box(439, 244, 116, 19, 0.619), Box(437, 284, 100, 22, 0.398),
             Box(437, 327, 269, 17, 0.55), Box(438, 361, 156, 16, 0.559), Box(472, 416, 68, 15, 0.641, False, True),
             Box(29, 531, 82, 18, 0.753), Box(197, 576, 63, 13, 0.773), Box(28, 577, 37, 12, 0.802),
             Box(197, 601, 63, 13, 0.752), Box(28, 602, 50, 12, 0.815), Box(26, 625, 112, 16, 0.612),
             Box(197, 626, 48, 12, 0.844, True), Box(27, 649, 58, 16, 0.716), Box(198, 650, 31, 15, 0.639),
             Box(27, 682, 629, 22, 0.416), Box(21, 720, 472, 18, 0.505, False, True),
             Box(37, 759, 70, 16, 0.601, False, True), Box(146, 759, 59, 16, 0.661, False, True)]
    known = {lines[0], lines[2], lines[3], lines[-3], lines[-2], lines[-1]}  # the header, the cookie banner
    pictures = [Box(27, 121, 382, 382), Box(67, 284, 303, 90)]
    chosen = choose_lines(lines, pictures, load_profile(), 968, 1280, known, masthead=75)
    assert title in chosen


def test_the_block_read_around_the_heading_is_the_titles_not_a_long_description() -> None:
    """Line boxes recorded from two held-out theme frames (our panel right of x 968 left out). Each title is
    barely above the body text, so every body line measures "near the tallest", and the longest of those was a
    description paragraph: the block read around it (specs, reviews) spent the budget the buy box needed.
    theme-21 product-02: the title (25 px) and a 37 px row of colour chips; the price line right under the
    title must be read. theme-37 product-04, scrolled with its title under the sticky header: the 24 px price
    leads; "In stock", the page's second product-page mark, must be read (the page is then grounded by its
    price, brand and picture colour)."""
    from services.core.reading.profile import load_profile
    from services.core.reading.reader import choose_lines

    price = Box(439, 171, 316, 20, 0.59)
    chips_page = [Box(27, 19, 188, 22, 0.58), Box(769, 23, 58, 16, 0.68), Box(437, 64, 57, 17, 0.65),
                  Box(437, 93, 350, 25, 0.49), Box(439, 132, 156, 20, 0.46), price, Box(437, 209, 327, 37, 0.43, True),
                  Box(687, 219, 64, 19, 0.60), Box(472, 284, 82, 19, 0.58, False, True), Box(29, 469, 99, 21, 0.66),
                  Box(27, 524, 46, 19, 0.64), Box(198, 524, 60, 15, 0.68), Box(199, 551, 37, 16, 0.65),
                  Box(28, 552, 73, 19, 0.65), Box(28, 580, 121, 20, 0.60), Box(198, 580, 115, 16, 0.69),
                  Box(28, 609, 198, 21, 0.53), Box(28, 650, 841, 20, 0.53), Box(29, 700, 118, 21, 0.63),
                  Box(28, 754, 212, 20, 0.52)]
    assert price in choose_lines(chips_page, [], load_profile(), 968, 1280, masthead=66)

    in_stock = Box(398, 215, 59, 14, 0.68)
    header = [Box(29, 18, 177, 22, 0.59), Box(784, 22, 51, 14, 0.75)]
    cookies = [Box(45, 673, 330, 17, 0.57, False, True), Box(46, 695, 171, 14, 0.69, False, True),
               Box(61, 732, 74, 17, 0.61, False, True), Box(175, 732, 63, 17, 0.68, False, True)]
    scrolled = [*header, Box(398, 67, 78, 17, 0.59), Box(398, 93, 164, 17, 0.54), Box(399, 128, 136, 24, 0.51),
                Box(457, 174, 56, 17, 0.62), in_stock, Box(431, 271, 97, 15, 0.65, False, True),
                Box(29, 379, 88, 20, 0.69), Box(27, 428, 75, 17, 0.67), Box(198, 428, 33, 14, 0.58, True),
                Box(28, 453, 70, 14, 0.84), Box(198, 453, 56, 14, 0.72), Box(28, 479, 119, 17, 0.63),
                Box(198, 479, 38, 14, 0.68), Box(27, 505, 62, 17, 0.72), Box(198, 505, 53, 17, 0.61),
                Box(27, 542, 667, 17, 0.56), Box(29, 585, 104, 20, 0.65), Box(28, 633, 131, 14, 0.61), *cookies,
                Box(28, 778, 409, 19, 0.52)]
    known = {*header, *cookies}  # read on earlier pages with the same pixels
    assert in_stock in choose_lines(scrolled, [], load_profile(), 968, 1280, known, masthead=63)


def test_a_wrapped_title_grounds_on_a_page_whose_small_body_text_makes_many_lines_big() -> None:
    """OCR lines recorded from a held-out theme frame (theme-37 product-03): the title wraps onto two lines (30
    and 36 px) over 14 px body text, so the shop's name, the breadcrumb, the brand, the stars and the cookie
    banner all count as heading-sized too. The wrapped pair must still be among the headings the title is
    looked for in (it came after every single line, past the first eight)."""
    rows = [("P84428", "Fenwick Willow Chronograph R97", 367.5, "Brown"),
            ("P25655", "Fenwick Willow Chronograph H3", 549.0, "Orange"),
            ("P47292", "Fenwick Willow Chronograph W73", 75.0, "Green")]
    catalog = Catalog([Product(product_id=i, title=t, brand="Fenwick", category="Watches", colour=col, price=p,
                               margin=0.3, rating=4.9, review_count=120, description="", specs="", image=f"{i}.png")
                       for i, t, p, col in rows])
    lines = [_line("Mint Market", 18, 22, 30), _line("Search", 22, 14, 785), _line("Home | Watches", 62, 17, 29),
             _line("Fenwick Willow", 100, 30, 401), _line("Chronograph R97", 143, 36, 400),
             _line("by Fenwick", 191, 17), _line("4.9 out of 5 stars (120)", 216, 17),
             _line("$489.99-S_B $367.50 USD", 251, 26), _line("Brown", 297, 14, 458), _line("In stock", 338, 14),
             _line("Add to cart", 394, 14, 432), _line("Details", 462, 20, 30), _line("Case", 510, 14, 29),
             _line("Strap", 588, 17, 29), _line("We use cookies to improve your experience", 673, 17, 46),
             _line("and to measure traffic.", 695, 14, 47), _line("Accept all", 732, 17, 62),
             _line("Settings", 732, 17, 176)]
    obs = Grounder(catalog).observe(lines, picture_colour="Brown", body_text_px=14.0, masthead_px=63)
    assert obs.kind == "product" and obs.product_id == "P84428" and obs.colours == ["Brown"]


def test_a_page_scrolled_past_its_title_and_brand_is_grounded_by_its_price_and_picture_colour() -> None:
    """OCR lines recorded from a theme frame (theme-9 product-08: brand above the title, both under the sticky
    header; the brand is named again only in a description the budget left unread). A product page (two
    product-page marks) naming no brand: the one catalog product whose paid price is on the page and whose
    colour the picture shows: not the others at that price (Orange, White), nor the Green one at the struck-through
    list price (else two would fit, and nothing is grounded, as with a second product that fits)."""
    def product(pid: str, title: str, brand: str, colour: str, price: float) -> Product:
        return Product(product_id=pid, title=title, brand=brand, category="Footwear", colour=colour, price=price,
                       margin=0.3, rating=4.0, review_count=25, description="", specs="", image=f"{pid}.png")

    catalog = Catalog([product("P93564", "Gadsby Rapid Sandals T64", "Gadsby", "Green", 41.99),
                       product("P95008", "Brisco Comet Saucepan J49", "Brisco", "Orange", 41.99),
                       product("P61306", "Meridian Vista Sneakers J9", "Meridian", "White", 41.99),
                       product("P70001", "Solano Echo Loafers M3", "Solano", "Green", 52.99)])
    lines = [_line("Kite & Co", 18, 22, 27), _line("Search", 22, 14, 785), _line("KKK (25)", 62, 12, 28),
             _line("41,99 $ was 52,99 $", 91, 24, 28), _line("e000", 134, 22, 27),
             _line("Also available in Orange, Purple, Yellow", 178, 17, 27),
             _line("In stock, ready to ship", 215, 17, 28), _line("Add to cart", 271, 14, 61),
             _line("Details", 388, 20, 29), _line("Material", 436, 14, 28), _line("Mesh", 436, 14, 198),
             _line("Weight", 513, 17, 27), _line("590 g", 513, 17, 198)]
    obs = Grounder(catalog).observe(lines, picture_colour="Green", body_text_px=17.0, masthead_px=63)
    assert obs.kind == "product" and obs.product_id == "P93564" and obs.product_confidence == 0.5
    assert obs.colours == ["Green"]
    twin = Catalog([*catalog.products, product("P93565", "Gadsby Rapid Sandals T65", "Gadsby", "Green", 41.99)])
    assert Grounder(twin).observe(lines, picture_colour="Green", body_text_px=17.0, masthead_px=63).product_id is None


def test_a_search_page_whose_card_titles_are_heading_sized_is_no_product_page() -> None:
    """OCR lines recorded from a theme frame (theme-48 search results, dark, from the held-out sweep of 41-60):
    no product-page wording, and a card's title (21 px over 16 px body text) is heading-sized, a catalog title
    letter for letter with its price right under it. A search results page is still not that product's page."""
    catalog = Catalog([Product(product_id="P54081", title="Oberon Cascade Headphones W36", brand="Oberon",
                               category="Headphones", colour="Purple", price=74.99, margin=0.3, rating=4.0,
                               review_count=10, description="", specs="", image="P54081.png")])
    lines = [_line("Harbour Goods", 19, 22, 29), _line("BACKPACKS", 79, 16, 28), _line("COOKWARE", 79, 16, 159),
             _line("FOOTWEAR", 79, 16, 289), _line('Results for "oberon"', 156, 28, 30),
             _line("82 products, page 1 of 3", 222, 20, 28), _line("$168-99 $126.50 -25%", 458, 19, 27),
             _line("Oberon Cascade Headphones W36", 672, 21, 28), _line("$74.99", 698, 19, 28)]
    obs = Grounder(catalog).observe(lines, page_url="http://shop/search?q=oberon", picture_colour="White",
                                    body_text_px=16.0, masthead_px=108)
    assert obs.kind == "search" and obs.search_query == "oberon" and obs.product_id is None
