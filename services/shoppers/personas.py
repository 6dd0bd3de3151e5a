"""The persona library: hidden preferences and shopping behaviour from a data file (personas.toml), resolved
against a catalog with each persona's seed into a concrete, reproducible browsing plan. Pure: no I/O beyond
reading the file.

A persona's `Wants` is hidden from the pipeline: only the scripted shopper (which acts on it) and the scoring
(which ranks the ground truth by it) ever see it.
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from services.common.catalog import Catalog, Product
from services.demo_shop.app import PAGE_SIZE
from services.demo_shop.queries import CategoryFilters, SearchIndex, filter_category
from services.shoppers.budget import BUDGET_TOLERANCE, within_budget

LIBRARY = Path(__file__).with_name("personas.toml")
K = 8  # recommendation panel size the ground truth must be able to fill
PRICE_MODES = ("band", "cheap", "luxury")
BAND_MAX_RATIO = 1.4  # a "band" budget: its top is at most this times its bottom
QUARTILE = 0.25  # "cheap" / "luxury": the cheapest / dearest quarter of the category
ENTRIES = ("category", "search", "home")
FILTERS = ("brand", "colour", "price", "sort")
WANT_KEYS = ("category", "brand", "colour", "price", "min_rating", "price_sensitivity")
BEHAVIOUR_KEYS = ("entry", "filters", "views", "noise", "compare", "scroll", "dwell")
LISTING_PAGES = 3  # a shopper pages through at most this many listing pages to pick products from


class PersonaError(ValueError):
    """The persona file is malformed, or a persona cannot be realised on this catalog."""


@dataclass(frozen=True)
class Wants:
    """A resolved hidden preference: every given attribute must hold."""

    category: str | None = None
    brand: str | None = None
    colour: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    price_mode: str | None = None  # band | cheap | luxury
    min_rating: float | None = None
    price_sensitivity: float = 0.5

    def fits(self, p: Product, tolerance: float = BUDGET_TOLERANCE) -> bool:
        """Whether a product meets the preference (budget edges widened by `tolerance`)."""
        return ((self.category is None or p.category == self.category)
                and (self.brand is None or p.brand == self.brand)
                and (self.colour is None or p.colour == self.colour)
                and within_budget(p.price, self.price_min, self.price_max, tolerance)
                and (self.min_rating is None or p.rating >= self.min_rating))

    def wants(self, p: Product) -> bool:
        """Strictly inside the preference: what the shopper opens."""
        return self.fits(p, tolerance=0.0)

    def describe(self) -> str:
        parts = [x for x in (self.colour, self.brand, self.category or "products") if x]
        text = " ".join(parts)
        if self.price_mode == "band":
            text += f" priced ${self.price_min:,.0f}-${self.price_max:,.0f}"
        elif self.price_mode == "cheap":
            text += f" up to ${self.price_max:,.0f} (cheapest quarter)"
        elif self.price_mode == "luxury":
            text += f" from ${self.price_min:,.0f} (dearest quarter)"
        if self.min_rating is not None:
            text += f" rated {self.min_rating:g}+"
        return text


def utility(wants: Wants, catalog: Catalog) -> np.ndarray:
    """The persona's own utility of every catalog product: rating minus price sensitivity times the log of the
    price relative to its category median (cheap shoppers dislike dear items more; luxury ones prefer them)."""
    median = np.empty(len(catalog))
    for cat in catalog.categories:
        sel = catalog.category == cat
        median[sel] = np.median(catalog.price[sel])
    return catalog.rating - wants.price_sensitivity * np.log(catalog.price / median)


def relevant(wants: Wants, catalog: Catalog, exclude: set[str] = frozenset()) -> list[str]:
    """Ground truth: catalog products meeting the preference, best first by the persona's utility."""
    u = utility(wants, catalog)
    ids = [i for i, p in enumerate(catalog.products) if wants.fits(p) and p.product_id not in exclude]
    ids.sort(key=lambda i: (-u[i], catalog.products[i].product_id))
    return [catalog.products[i].product_id for i in ids]


@dataclass(frozen=True)
class Step:
    """One shopper action. kind: home | category | search | filter | open | compare."""

    kind: str
    arg: str = ""  # category name, query, product id, comma-separated ids
    filters: dict = field(default_factory=dict)  # for kind == filter: brand, colour, price_min, price_max, sort
    brief: bool = False  # an off-preference glance (noise)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Persona:
    id: str
    group: str
    seed: int
    wants: Wants  # the final intent: the ground truth
    first: Wants | None  # the intent before a change halfway, if any
    steps: tuple[Step, ...]
    dwell: tuple[float, float]
    scroll: bool

    @property
    def viewed(self) -> list[str]:
        return [s.arg for s in self.steps if s.kind == "open"]

    def describe(self) -> str:
        if self.first is not None:
            return f"{self.first.describe()}, then {self.wants.describe()}"
        return self.wants.describe()


# --- loading -----------------------------------------------------------------------------------------------

def load(path: Path = LIBRARY) -> list[dict]:
    """The raw persona tables, validated for shape (not yet resolved against a catalog)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PersonaError(f"cannot read persona file {path}: {exc}") from exc
    personas = data.get("persona")
    if not isinstance(personas, list) or not personas:
        raise PersonaError(f"{path}: no [[persona]] tables")
    seen: set[str] = set()
    for n, p in enumerate(personas):
        where = f"{path}: persona #{n + 1} ({p.get('id', '?')})"
        for key in ("id", "group", "seed", "wants"):
            if key not in p:
                raise PersonaError(f"{where}: missing '{key}'")
        if p["id"] in seen:
            raise PersonaError(f"{where}: duplicate id")
        seen.add(p["id"])
        for table in ("wants", "then"):
            if table in p:
                unknown = set(p[table]) - set(WANT_KEYS)
                if unknown:
                    raise PersonaError(f"{where}: unknown {table} keys {sorted(unknown)}; expected {WANT_KEYS}")
                if p[table].get("price") not in (None, *PRICE_MODES):
                    raise PersonaError(f"{where}: price must be one of {PRICE_MODES}")
        b = p.get("behaviour", {})
        unknown = set(b) - set(BEHAVIOUR_KEYS)
        if unknown:
            raise PersonaError(f"{where}: unknown behaviour keys {sorted(unknown)}; expected {BEHAVIOUR_KEYS}")
        if b.get("entry", "category") not in ENTRIES:
            raise PersonaError(f"{where}: entry must be one of {ENTRIES}")
        if set(b.get("filters", [])) - set(FILTERS):
            raise PersonaError(f"{where}: filters must be among {FILTERS}")
        if not 2 <= int(b.get("views", 5)) <= 20 or not 0 <= float(b.get("noise", 0.0)) < 0.5:
            raise PersonaError(f"{where}: views must be 2..20 and noise in [0, 0.5)")
    return personas


# --- resolving against a catalog ---------------------------------------------------------------------------

def _draw(rng: random.Random, spec, options: list[str], what: str, where: str) -> str | None:
    if spec is None:
        return None
    if spec == "?":
        if not options:
            raise PersonaError(f"{where}: no {what} has enough products for this persona")
        return rng.choice(sorted(options))
    if spec not in options:
        raise PersonaError(f"{where}: {what} {spec!r} has too few products (or is not in the catalog)")
    return spec


RESOLVE_ATTEMPTS = 200  # "?" values are drawn one after another; a draw that leaves too few products is retried


def _resolve_wants(spec: dict, catalog: Catalog, rng: random.Random, need: int, where: str,
                   avoid_category: str | None = None) -> Wants:
    problem = None
    for _ in range(RESOLVE_ATTEMPTS):
        try:
            return _try_wants(spec, catalog, rng, need, where, avoid_category)
        except PersonaError as exc:
            problem = exc
    raise problem


def _try_wants(spec: dict, catalog: Catalog, rng: random.Random, need: int, where: str,
               avoid_category: str | None) -> Wants:
    products = catalog.products
    rating = spec.get("min_rating")
    pool = [p for p in products if rating is None or p.rating >= rating]

    def enough(attr: str, pool: list[Product]) -> list[str]:
        counts: dict[str, int] = {}
        for p in pool:
            counts[getattr(p, attr)] = counts.get(getattr(p, attr), 0) + 1
        # a price mode keeps about a quarter (or a band's share) of the pool: leave room for it
        factor = 5 if spec.get("price") else 1
        return [v for v, n in counts.items() if n >= need * factor]

    category = spec.get("category")
    if category is not None:
        options = [c for c in enough("category", pool) if c != avoid_category]
        category = _draw(rng, category, options, "category", where)
        pool = [p for p in pool if p.category == category]
    brand = _draw(rng, spec.get("brand"), enough("brand", pool), "brand", where)
    pool = [p for p in pool if brand is None or p.brand == brand]
    colour = _draw(rng, spec.get("colour"), enough("colour", pool), "colour", where)
    pool = [p for p in pool if colour is None or p.colour == colour]

    lo = hi = None
    mode = spec.get("price")
    if mode in ("cheap", "luxury"):
        scope = [p.price for p in products if category is None or p.category == category]
        if mode == "cheap":
            hi = round(float(np.quantile(scope, QUARTILE)), 2)
        else:
            lo = round(float(np.quantile(scope, 1 - QUARTILE)), 2)
    elif mode == "band":
        prices = sorted(p.price for p in pool)
        starts = list(range(len(prices) - need + 1))
        rng.shuffle(starts)
        for i in starts:
            a, b = math.floor(prices[i] / 5) * 5, math.ceil(prices[i + need - 1] / 5) * 5
            if a > 0 and b / a <= BAND_MAX_RATIO:
                lo, hi = float(a), float(b)
                break
        else:
            raise PersonaError(f"{where}: no narrow price band holds {need} products")
    wants = Wants(category, brand, colour, lo, hi, mode, rating, float(spec.get("price_sensitivity", 0.5)))
    matching = [p for p in products if wants.wants(p)]
    if len(matching) < need:
        raise PersonaError(f"{where}: only {len(matching)} products match {wants.describe()}; need {need}")
    return wants


def _search_query(w: Wants, catalog: Catalog) -> str:
    words = [x for x in (w.colour, w.brand, w.category) if x]
    return " ".join(words) if words else w.category or catalog.categories[0]


def _filters_for(w: Wants, asked: list[str]) -> dict:
    out: dict = {}
    if "brand" in asked and w.brand:
        out["brand"] = w.brand
    if "colour" in asked and w.colour:
        out["colour"] = w.colour
    if "price" in asked and (w.price_min is not None or w.price_max is not None):
        # people type whole dollars (and the shop's price fields only accept them)
        if w.price_min is not None:
            out["price_min"] = float(math.floor(w.price_min))
        if w.price_max is not None:
            out["price_max"] = float(math.ceil(w.price_max))
    if "sort" in asked:
        out["sort"] = ("price_asc" if w.price_mode == "cheap" else "price_desc" if w.price_mode == "luxury"
                       else "rating")
    return out


def _listing(catalog: Catalog, category: str | None, filters: dict, query: str | None) -> list[Product]:
    """What the shopper's listing shows on its first LISTING_PAGES pages (the shop's own query code)."""
    if query is not None:
        items = SearchIndex(catalog).search(query)
    else:
        items = filter_category(catalog, category, CategoryFilters(
            brand=filters.get("brand"), colour=filters.get("colour"), price_min=filters.get("price_min"),
            price_max=filters.get("price_max"), sort=filters.get("sort", "popular")))
    return items[:PAGE_SIZE * LISTING_PAGES]


def _phase(w: Wants, views: int, noise: float, behaviour: dict, catalog: Catalog, rng: random.Random,
           taken: set[str]) -> list[Step]:
    """Entry, filters and product views of one intent. Products are picked from the listing the shopper reached
    (a person opens what they see), preferring what they like best; only when that listing holds too few does
    the shopper look products up by name."""
    steps: list[Step] = []
    entry = behaviour.get("entry", "category")
    u = utility(w, catalog)
    matching = [p for p in catalog.products if w.wants(p) and p.product_id not in taken]
    category = w.category or rng.choice(matching).category
    filters: dict = {}
    query = None
    if entry == "search":
        query = _search_query(w, catalog)
        steps.append(Step("search", query))
    else:
        if entry == "home":
            steps.append(Step("home"))
        steps.append(Step("category", category))
        filters = _filters_for(w, list(behaviour.get("filters", [])))
        if filters:
            steps.append(Step("filter", filters=filters))
    shown = [p for p in _listing(catalog, category, filters, query) if p.product_id not in taken]
    n_noise = round(views * noise)
    preferred = [p for p in shown if w.wants(p)]
    if len(preferred) < views - n_noise:
        preferred += [p for p in matching if p not in preferred]
    weights = [math.exp(2.0 * float(u[catalog.index[p.product_id]])) for p in preferred]
    picks: list[Product] = []
    while len(picks) < views - n_noise:
        p = rng.choices(preferred, weights=weights)[0]
        if p not in picks:
            picks.append(p)
    off = [p for p in shown if not w.fits(p)] or [p for p in catalog.products if not w.fits(p)
                                                   and p.product_id not in taken]
    noise_picks = rng.sample(off, n_noise)
    order: list[tuple[Product, bool]] = [(p, False) for p in picks]
    for p in noise_picks:
        order.insert(rng.randrange(1, len(order) + 1), (p, True))  # never first: the taste shows up front
    compared = False
    for n, (p, brief) in enumerate(order):
        taken.add(p.product_id)
        steps.append(Step("open", p.product_id, brief=brief))
        if behaviour.get("compare") and not compared and n >= 1 and not brief and not order[n - 1][1]:
            steps.append(Step("compare", f"{order[n - 1][0].product_id},{p.product_id}"))
            compared = True
    return steps


def resolve(raw: dict, catalog: Catalog) -> Persona:
    """A concrete persona: preferences drawn with its seed, the browsing plan fixed. Same input, same output."""
    where = f"persona {raw['id']}"
    rng = random.Random(f"persona:{raw['id']}:{raw['seed']}")  # str seeds are stable across runs
    b = raw.get("behaviour", {})
    views = int(b.get("views", 5))
    need = views + K
    first = _resolve_wants(raw["wants"], catalog, rng, need, where)
    final, before = first, None
    if "then" in raw:
        before = first
        final = _resolve_wants(raw["then"], catalog, rng, need, where, avoid_category=first.category)
    taken: set[str] = set()
    noise = float(b.get("noise", 0.0))
    if before is not None:
        half = views // 2
        steps = _phase(before, half, noise, b, catalog, rng, taken)
        steps += _phase(final, views - half, noise, {**b, "entry": "category"}, catalog, rng, taken)
    else:
        steps = _phase(final, views, noise, b, catalog, rng, taken)
    dwell = tuple(float(x) for x in b.get("dwell", (2.0, 4.0)))
    return Persona(raw["id"], raw["group"], int(raw["seed"]), final, before, tuple(steps), dwell,
                   bool(b.get("scroll", True)))


def library(catalog: Catalog, path: Path = LIBRARY, only: list[str] | None = None) -> list[Persona]:
    raws = load(path)
    if only:
        missing = set(only) - {r["id"] for r in raws}
        if missing:
            raise PersonaError(f"unknown persona ids {sorted(missing)}")
        by_id = {r["id"]: r for r in raws}
        raws = [by_id[i] for i in dict.fromkeys(only)]  # in the order asked for
    return [resolve(r, catalog) for r in raws]
