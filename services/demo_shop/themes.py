"""Seeded shop themes: the same catalog and routes in looks we did not choose, to test the reader on them.

`theme(n)` draws every visual and wording choice of theme n from `random.Random(n)`: fonts (Debian font
packages, installed by infra/setup/system-deps.sh), sizes, light or dark colours, the product image left,
right or on top, the brand above or below the title, only as "by X" or as a logo word, the price format
(`$83.00`, `$83.00 USD`, `USD 83.00`, `83,00 $`), how a sale price sits beside the regular one, a variant
picker listing other colours, the star format, breadcrumbs, an announcement bar, a sticky header, a
cookie banner covering part of the viewport, a listing's sort control (a select under its label, beside it, or
drawn as "Sort by: Featured" text), and wording from the families the reader's default profile covers. The
layout name is `theme-<n>` (INTERAREC_SHOP_LAYOUT), rendered by templates/themed.

Themes are a test input: the reader must read every one with its default profile; nothing in the pipeline
may know them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_THEME_RE = re.compile(r"^theme-(\d{1,4})$")

# (font-family stack, Debian package) pairs; every family is a locally installed font (offline demo).
BODY_FONTS = (
    ('"Open Sans"', "fonts-open-sans"), ('"Lato"', "fonts-lato"), ('"Roboto"', "fonts-roboto-unhinted"),
    ('"Carlito"', "fonts-crosextra-carlito"), ('"Cantarell"', "fonts-cantarell"), ('"FreeSans"', "fonts-freefont-ttf"),
    ('"DejaVu Sans"', "fonts-dejavu-core"), ('"DejaVu Sans Condensed"', "fonts-dejavu-core"),
    ('"Roboto Condensed"', "fonts-roboto-unhinted"),
)
HEADING_FONTS = BODY_FONTS + (
    ('"Caladea"', "fonts-crosextra-caladea"), ('"Linux Libertine O"', "fonts-linuxlibertine"),
    ('"FreeSerif"', "fonts-freefont-ttf"), ('"DejaVu Serif"', "fonts-dejavu-core"),
)
FONT_PACKAGES = tuple(sorted({pkg for _, pkg in HEADING_FONTS}))

PRICE_FORMATS = ("symbol", "symbol_code", "code_first", "comma_after")
SALE_LAYOUTS = ("was", "list", "regular_sale", "compare_struck")
BRAND_PLACES = ("above", "below", "by", "logo")
IMAGE_SIDES = ("left", "right", "top")
PICKERS = ("chips", "label_chips", "select", "dots")
STAR_FORMATS = ("glyphs_count", "score_glyphs_count", "out_of_five", "rating_label", "count_ratings")
BREADCRUMB_SEPS = ("/", "›", ">", "»", "|", None)
COOKIE_BANNERS = (None, "bar", "box")
ANNOUNCEMENTS = (None, "Free shipping on orders over $50", "Free returns within 30 days",
                 "New arrivals every week", "Members get early access to new collections")
# The families of wording the default profile (services/core/reading/profiles/default.json) covers.
BUY_LABELS = ("Add to cart", "Add to bag", "Add to basket", "Buy now", "Add to trolley")
STOCK_LABELS = ("In stock", "In stock, ready to ship", "Only a few left in stock", None)
COLOUR_WORDS = ("Colour", "Color")
# A listing's sort control: its label over a select (a sidebar form), left of it on the results' toolbar, or a text
# dropdown ("Sort by: Featured", a select drawn without its box); the label's words and each order's wording.
SORT_FORMS = ("above", "beside", "inline")
SORT_LABELS = ("Sort", "Sort by", "Order by")
SORT_WORDING = {
    "popular": ("Most reviewed", "Featured", "Best selling", "Most popular", "Recommended"),
    "price_asc": ("Price: low to high", "Price, low to high", "Lowest price", "Price ascending"),
    "price_desc": ("Price: high to low", "Price, high to low", "Highest price", "Most expensive"),
    "rating": ("Top rated", "Highest rated", "Avg. Customer Review", "Rating: high to low", "Best rated"),
}
SHOP_NAMES = ("Northwind Supply", "Kite & Co", "Atelier Blanc", "Harbour Goods", "Fieldhouse", "Odd Loop",
              "Copper Lane", "Mint Market", "Tall Pines", "Studio Nine", "Blue Fern", "The Good Store")
LIGHT_PALETTES = (
    {"bg": "#ffffff", "fg": "#1c1c1c", "muted": "#6a6a6a", "accent": "#2a5bd7", "band": "#f2f2f2"},
    {"bg": "#fbf8f3", "fg": "#2b2621", "muted": "#786c60", "accent": "#8a2e3b", "band": "#efe6d8"},
    {"bg": "#f6f8fa", "fg": "#101820", "muted": "#5d6b78", "accent": "#0f7b5f", "band": "#e3ebf0"},
    {"bg": "#fffdf5", "fg": "#222222", "muted": "#77715d", "accent": "#c2571a", "band": "#f4ecd0"},
)
DARK_PALETTES = (
    {"bg": "#121212", "fg": "#ececec", "muted": "#a0a0a0", "accent": "#6fa8ff", "band": "#262626"},
    {"bg": "#1b1f24", "fg": "#f1efe9", "muted": "#a9b0b8", "accent": "#f0b35b", "band": "#2c333b"},
    {"bg": "#0f1a17", "fg": "#e6f0ea", "muted": "#98aca3", "accent": "#7fd1a8", "band": "#1f2e29"},
)


@dataclass(frozen=True)
class Theme:
    number: int
    shop_name: str
    body_font: str
    heading_font: str
    body_px: int
    title_px: int
    dark: bool
    palette: dict[str, str]
    image_side: str
    image_px: int
    brand_place: str
    price_format: str
    sale_layout: str
    picker: str
    star_format: str
    breadcrumb_sep: str | None
    announcement: str | None
    sticky_header: bool
    cookie_banner: str | None
    buy_label: str
    stock_label: str | None
    colour_word: str
    uppercase_nav: bool
    sort_form: str
    sort_label: str
    sort_words: dict[str, str]  # the demo shop's sort key -> this theme's words for it

    @property
    def layout(self) -> str:
        return f"theme-{self.number}"

    def price(self, value: float) -> str:
        """The theme's price text: `$83.00`, `$83.00 USD`, `USD 83.00` or `83,00 $` (thousands grouped)."""
        plain = f"{value:,.2f}"
        if self.price_format == "symbol":
            return f"${plain}"
        if self.price_format == "symbol_code":
            return f"${plain} USD"
        if self.price_format == "code_first":
            return f"USD {plain}"
        whole, cents = f"{value:.2f}".split(".")
        grouped = f"{int(whole):,}".replace(",", "\u202f")  # 1 234,00 $ (narrow no-break space)
        return f"{grouped},{cents} $"

    def stars(self, rating: float, count: int) -> str:
        glyphs = "★" * int(rating + 0.5) + "☆" * (5 - int(rating + 0.5))
        if self.star_format == "glyphs_count":
            return f"{glyphs} ({count:,})"
        if self.star_format == "score_glyphs_count":
            return f"{rating:.1f} {glyphs} ({count:,})"
        if self.star_format == "out_of_five":
            return f"{rating:.1f} out of 5 stars ({count:,})"
        if self.star_format == "rating_label":
            return f"Rating: {rating:.1f}/5 ({count:,} reviews)"
        return f"{glyphs} {count:,} ratings"


def _pick(dimension: str, values: tuple, number: int):
    """Value of one dimension for theme `number`: every block of len(values) consecutive themes uses each
    value once (a seeded order per block), so any 20 themes cover every choice and pair them differently."""
    block, slot = divmod(number - 1, len(values))
    return random.Random(f"interarec-theme-{dimension}-{block}").sample(values, len(values))[slot]


def theme(number: int) -> Theme:
    """Theme `number` (>= 1): every choice drawn from seeded generators, so a theme never changes."""
    if number < 1:
        raise ValueError("theme numbers start at 1")

    def pick(dimension: str, values: tuple):
        return _pick(dimension, values, number)

    dark = pick("scheme", (False, True, False))
    return Theme(
        number=number, shop_name=pick("name", SHOP_NAMES), body_font=pick("body_font", BODY_FONTS)[0],
        heading_font=pick("heading_font", HEADING_FONTS)[0], body_px=pick("body_px", (14, 15, 16, 17)),
        title_px=pick("title_px", (24, 26, 28, 30, 32, 36)), dark=dark,
        palette=dict(pick("palette", DARK_PALETTES if dark else LIGHT_PALETTES)),
        image_side=pick("image_side", IMAGE_SIDES), image_px=pick("image_px", (300, 340, 380)),
        brand_place=pick("brand_place", BRAND_PLACES), price_format=pick("price_format", PRICE_FORMATS),
        sale_layout=pick("sale_layout", SALE_LAYOUTS), picker=pick("picker", PICKERS),
        star_format=pick("star_format", STAR_FORMATS), breadcrumb_sep=pick("breadcrumb", BREADCRUMB_SEPS),
        announcement=pick("announcement", ANNOUNCEMENTS), sticky_header=pick("sticky", (True, False)),
        cookie_banner=pick("cookie", COOKIE_BANNERS), buy_label=pick("buy", BUY_LABELS),
        stock_label=pick("stock", STOCK_LABELS), colour_word=pick("colour_word", COLOUR_WORDS),
        uppercase_nav=pick("nav_case", (True, False)), sort_form=pick("sort_form", SORT_FORMS),
        sort_label=pick("sort_label", SORT_LABELS),
        sort_words={key: pick(f"sort_{key}", words) for key, words in SORT_WORDING.items()},
    )


def theme_number(layout: str) -> int | None:
    """The n of a `theme-<n>` layout name, else None."""
    m = _THEME_RE.match(layout)
    return int(m.group(1)) if m and int(m.group(1)) >= 1 else None


def template_globals(t: Theme) -> dict:
    """What templates/themed needs besides the shop's usual globals."""
    from services.common.demo_catalog import COLOURS

    def swatch_css(name: str) -> str:
        r, g, b = COLOURS.get(name, (200, 200, 200))
        return f"rgb({r}, {g}, {b})"

    return {"t": t, "swatch_css": swatch_css}
