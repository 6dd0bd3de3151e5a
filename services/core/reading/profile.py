"""What the reader needs to know about a shop, as data: INTERAREC_SHOP_PROFILE (`profile_setting`, read with
each service's settings) names a JSON file overlaid on profiles/default.json (which reads both demo-shop
layouts). A new shop is described here, never in code.

Keys (all optional; a file states only what differs from the default):
- panel_cues: text of our own recommendation panel's heading; it and everything below and right of it is
  never read as the page (the system must not learn from its own output).
- read_budget: how much text one frame may recognise, in line-length units (a text line's width over its
  height, about its number of characters); the OCR cost per frame follows it.
- target_line_px: text lines are rescaled to this height before recognition (Tesseract reads best with
  capitals about 30 px tall; small print is enlarged, big headings shrunk).
- focus_below / focus_above: how far below / above the page's biggest text (a product title) lines are
  read first, in multiples of that text's height: the buy box (brand, price, rating, swatches).
- product_page_cues / list_price_cues / brand_cues / rating_cues / promotion_cues / home_cues /
  comparison_cues: regular expressions (case-insensitive) for the shop's wording: what marks a product page
  ("Add to bag"), a struck-through price ("List:"), the brand ("Visit the (X) store": group 1), a rating
  ("4.2 ... (123)": groups 1 and 2), a promotion, the home page, a comparison page.
- search_results_cues: a search results heading, the query in group 1 ("Results for (shoes)").
- review_cues / review_summary_cues: reviews shown on the page ("Reviews"), and a mere review count next to a
  rating ("(123 reviews)"), which is not reading reviews.
- label_cues: a line that is a label, never a product title ("Rating", "Visit the store", "$").
- sku_cues / sku_label_cues: the product code line, the code in group 1 ("SKU: (P00042)"), and its label
  alone (a product page even when the code is unreadable).
panel_cues, product_page_cues and rating_cues are required (the default file gives them); there is no
wording in code to fall back on.
- filter_labels: field (brand, colour, category, price) -> regular expressions for the label of a listing's
  filter chip or control ("Brand: Norda", "Price: $50 – $120"), and price_from / price_up_to -> the words of
  an open price filter ("Price: from $50", "Price: up to $120"); no capturing groups.
- sort_cues / sort_orders: a listing's sort control: its label ("Sort by", "Order by"), and per order of the closed
  set (SORT_ORDERS: rating_desc, price_asc, price_desc, newest, relevance) regular expressions for the shop's words
  for it ("Top rated", "Price: low to high"); read by sort_order.py.
- colours: name -> [r, g, b] reference colours for reading a product's colour from its picture.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from services.common.config import ConfigError
from services.common.settings import setting

DEFAULT_PATH = Path(__file__).parent / "profiles" / "default.json"
REQUIRED_CUES = ("panel_cues", "product_page_cues", "rating_cues")
FILTER_FIELDS = ("brand", "colour", "category", "price", "price_from", "price_up_to")
SORT_ORDERS = ("rating_desc", "price_asc", "price_desc", "newest", "relevance")


@dataclass(frozen=True)
class ShopProfile:
    name: str = "default"
    panel_cues: tuple[str, ...] = ()
    read_budget: float = 85.0
    target_line_px: int = 28
    focus_below: float = 9.0
    focus_above: float = 3.0
    product_page_cues: tuple[str, ...] = ()
    list_price_cues: tuple[str, ...] = ()
    brand_cues: tuple[str, ...] = ()
    rating_cues: tuple[str, ...] = ()
    promotion_cues: tuple[str, ...] = ()
    home_cues: tuple[str, ...] = ()
    comparison_cues: tuple[str, ...] = ()
    search_results_cues: tuple[str, ...] = ()
    review_cues: tuple[str, ...] = ()
    review_summary_cues: tuple[str, ...] = ()
    label_cues: tuple[str, ...] = ()
    sku_cues: tuple[str, ...] = ()
    sku_label_cues: tuple[str, ...] = ()
    colours: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    filter_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sort_cues: tuple[str, ...] = ()
    sort_orders: dict[str, tuple[str, ...]] = field(default_factory=dict)

    # compiled forms
    def regex(self, name: str) -> re.Pattern | None:
        """One pattern for all of a key's cues (for cues without groups); None when the key has none."""
        pats = getattr(self, name)
        return re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE) if pats else None

    def regexes(self, name: str) -> list[re.Pattern]:
        """Each cue of a key on its own (for cues whose groups carry a value: tried in order)."""
        return [re.compile(p, re.IGNORECASE) for p in getattr(self, name)]

    def filter_patterns(self) -> FilterPatterns:
        return FilterPatterns.build(self.filter_labels)


@dataclass(frozen=True)
class FilterPatterns:
    """A listing's filter chips and controls in the shop's wording: the patterns the grounder reads them with."""

    term: re.Pattern  # "Brand: Norda": group 1 the label, group 2 the value
    keys: re.Pattern  # where each chip starts on a line holding several
    price_range: re.Pattern  # "Price: $50 - $120": groups 1 and 2
    price_open: re.Pattern  # "Price: from $50" / "Price: up to $120": group 1 the word, group 2 the amount
    price_from: re.Pattern  # that word, whole, when it opens the range upwards ("from")
    price_label: re.Pattern  # a price filter's label: its amounts are no product's price
    fields: dict[str, re.Pattern]  # field -> its label, whole

    @classmethod
    def build(cls, labels: dict[str, tuple[str, ...]]) -> FilterPatterns:
        alt = {f: "(?:" + "|".join(f"(?:{p})" for p in labels[f]) + ")" for f in FILTER_FIELDS}
        brand, colour, category, price, above, below = (alt[f] for f in FILTER_FIELDS)
        amount = r"\$?\s*(\d[\d,]*(?:\.\d+)?)"

        def rx(pattern: str) -> re.Pattern:
            return re.compile(pattern, re.IGNORECASE)

        return cls(term=rx(rf"^({brand}|{colour}|{category})\s*[:;]\s*([A-Za-z][A-Za-z ]{{1,40}})"),
                   keys=rx(rf"(?=\b(?:{brand}|{colour}|{category}|{price})\s*[:;])"),
                   price_range=rx(rf"\b{price}\s*[:;]?\s*{amount}\s*(?:[-–—~]|to)\s*{amount}"),
                   price_open=rx(rf"\b{price}\s*[:;]?\s*({above}|{below})\s*{amount}"),
                   price_from=rx(rf"^{above}$"),
                   price_label=rx(rf"\b{price}\s*[:;]"),
                   fields={f: rx(rf"^{alt[f]}$") for f in ("brand", "colour", "category")})

    def field(self, label: str) -> str | None:
        """Which field a chip's label names (brand, colour or category)."""
        return next((f for f, pattern in self.fields.items() if pattern.match(label.strip())), None)


def profile_setting():
    """The one declaration of INTERAREC_SHOP_PROFILE, for every service that reads shop screens (summarizer,
    storefront): the profile is loaded and checked when the settings are read, so a bad file stops the start."""
    return setting("INTERAREC_SHOP_PROFILE", load_profile, "JSON file describing the shop to the reader (see "
                   "below), overlaid on the built-in default", default_doc="(built-in default)",
                   parse=lambda raw: load_profile(raw.strip() or None))


def _compiled(key: str, pattern: str) -> re.Pattern:
    """The profile entry's regular expression, or a ConfigError naming the key and the pattern."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"shop profile: {key}: bad regular expression {pattern!r}: {exc}") from None


def load_profile(path: str | Path | None = None) -> ShopProfile:
    """The default profile, overlaid with the file at `path` if given."""
    data = _read(DEFAULT_PATH)
    if path:
        data.update(_read(Path(path)))
    known = {f.name: f for f in fields(ShopProfile)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"shop profile: unknown keys {unknown}; known: {sorted(known)}")
    values = {}
    for key, value in data.items():
        if key == "colours":
            try:
                values[key] = {str(k): tuple(int(c) for c in v) for k, v in value.items()}
            except (AttributeError, TypeError, ValueError):
                raise ConfigError("shop profile: colours must map names to [r, g, b]") from None
            if any(len(v) != 3 for v in values[key].values()):
                raise ConfigError("shop profile: colours must map names to [r, g, b]")
        elif key == "filter_labels":
            if not isinstance(value, dict) or set(value) != set(FILTER_FIELDS) or not all(
                    isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in value.values()):
                raise ConfigError(f"shop profile: filter_labels must map each of {list(FILTER_FIELDS)} to a list of "
                                  "regular expressions")
            for pattern in (x for v in value.values() for x in v):
                if _compiled(key, pattern).groups:
                    raise ConfigError(f"shop profile: filter_labels: {pattern!r} must not capture (use (?:...))")
            values[key] = {f: tuple(v) for f, v in value.items()}
        elif key == "sort_orders":
            if not isinstance(value, dict) or not set(value) <= set(SORT_ORDERS) or not all(
                    isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()):
                raise ConfigError(f"shop profile: sort_orders must map orders of {list(SORT_ORDERS)} to lists of "
                                  "regular expressions")
            for pattern in (x for v in value.values() for x in v):
                _compiled(key, pattern)
            values[key] = {f: tuple(v) for f, v in value.items()}
        elif key.endswith("_cues"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"shop profile: {key} must be a list of strings")
            for pattern in value:
                _compiled(key, pattern)
            values[key] = tuple(value)
        elif key == "name":
            values[key] = str(value)
        else:
            try:
                values[key] = type(getattr(ShopProfile, key))(value)
            except (TypeError, ValueError):
                raise ConfigError(f"shop profile: {key} must be a number, got {value!r}") from None
    profile = ShopProfile(**values)
    missing = [key for key in (*REQUIRED_CUES, "filter_labels") if not getattr(profile, key)]
    if missing:
        raise ConfigError(f"shop profile: {missing} must list at least one cue (the reader has no wording of its own)")
    if profile.read_budget <= 0 or not 12 <= profile.target_line_px <= 80:
        raise ConfigError("shop profile: read_budget must be > 0 and target_line_px within 12-80")
    return profile


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"INTERAREC_SHOP_PROFILE: no such file {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"shop profile {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"shop profile {path} must be a JSON object")
    data.pop("_comment", None)
    return data
