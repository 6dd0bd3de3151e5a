"""Deterministic demo catalog: a Parquet file matching catalog.SCHEMA plus one PNG per product (a coloured
silhouette of the product's kind, with no text on it, like a real product photo).

Everything derives from one seeded `random.Random`, so the same (version, seed, size) always gives the
same products and the same images. Names are chosen to survive OCR: plain words, no look-alike brands,
product codes without 0/O, 1/I/l, 5/S or 8/B.

    python -m services.common.demo_catalog [--out DIR] [--seed N] [--products N] [--force]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from services.common import config
from services.common.catalog import SCHEMA

GENERATOR_VERSION = "2"  # 2: pictures without text
META_GENERATOR = b"interarec.generator"
META_VERSION = b"interarec.generator_version"
META_SEED = b"interarec.seed"
META_PRODUCTS = b"interarec.n_products"
IMAGE_SIZE = 320

BRANDS = (
    "Norda", "Velmont", "Brisco", "Halvard", "Kestrel", "Solano", "Tavora", "Marlow", "Quenby", "Fenwick",
    "Ardent", "Pinecrest", "Rowan", "Saxby", "Tundra", "Vantor", "Wexford", "Yardley", "Zephyr", "Granite",
    "Oberon", "Larkspur", "Meridian", "Dovetail", "Juniper", "Hawthorn", "Bexley", "Caldera", "Elkhorn", "Gadsby",
)

COLOURS: dict[str, tuple[int, int, int]] = {
    "Black": (30, 30, 32), "White": (236, 236, 232), "Red": (200, 40, 45), "Blue": (40, 100, 200),
    "Green": (50, 140, 70), "Navy": (25, 40, 90), "Grey": (130, 132, 136), "Brown": (120, 80, 45),
    "Beige": (215, 195, 160), "Orange": (235, 130, 30), "Yellow": (235, 200, 40), "Purple": (120, 60, 150),
}

MODEL_WORDS = (
    "Summit", "Harbor", "Metro", "Trail", "Nova", "Pulse", "Ridge", "Coast", "Aspen", "Drift", "Echo", "Atlas",
    "Vista", "Prime", "Orbit", "Canyon", "Glacier", "Falcon", "Breeze", "Comet", "Delta", "Ember", "Fjord",
    "Haven", "Lumen", "Mesa", "Nimbus", "Pilot", "Quest", "Rapid", "Sierra", "Tempo", "Urban", "Valley",
    "Willow", "Alpine", "Cascade", "Horizon", "Voyager", "Monarch",
)
# Code alphabet without characters OCR confuses (0/O/Q/D, 1/I/L, 5/S, 8/B, 2/Z, U/V).
CODE_LETTERS = "ACEFHJKMNPRTWXY"
CODE_DIGITS = "34679"


@dataclass(frozen=True)
class CategorySpec:
    name: str
    nouns: tuple[str, ...]
    price_band: tuple[float, float]
    shape: str
    # colour weights: popular colours for the category get more products
    colour_weights: dict[str, float]
    specs: tuple[tuple[str, tuple[str, ...]], ...]


def _w(**weights: float) -> dict[str, float]:
    base = dict.fromkeys(COLOURS, 1.0)
    base.update(weights)
    return base


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("Footwear", ("Sneakers", "Boots", "Runners", "Loafers", "Sandals"), (39, 219), "shoe",
                 _w(Black=2.5, White=2.2, Brown=1.6, Navy=1.4, Purple=0.5, Yellow=0.5),
                 (("Material", ("Leather", "Suede", "Canvas", "Mesh", "Nubuck")),
                  ("Sole", ("Rubber", "EVA foam", "Gum rubber")),
                  ("Closure", ("Laces", "Zip", "Slip-on", "Buckle")),
                  ("Weight", ("{g} g",)))),
    CategorySpec("Outerwear", ("Jacket", "Parka", "Raincoat", "Windbreaker", "Vest"), (59, 399), "jacket",
                 _w(Black=2.2, Navy=2.0, Grey=1.6, Green=1.3, Beige=1.3, Yellow=0.6, Purple=0.5),
                 (("Material", ("Nylon", "Wool", "Cotton", "Polyester", "Down")),
                  ("Waterproof", ("Yes", "No")),
                  ("Fit", ("Regular", "Slim", "Relaxed")),
                  ("Weight", ("{g} g",)))),
    CategorySpec("Backpacks", ("Backpack", "Daypack", "Rucksack"), (29, 189), "backpack",
                 _w(Black=2.5, Grey=1.8, Navy=1.5, Green=1.3, White=0.5),
                 (("Capacity", ("{litres} L",)),
                  ("Material", ("Nylon", "Canvas", "Polyester", "Leather")),
                  ("Laptop sleeve", ("13 in", "15 in", "16 in", "None")),
                  ("Weight", ("{g} g",)))),
    CategorySpec("Headphones", ("Headphones", "Earbuds", "Headset"), (19, 449), "headphones",
                 _w(Black=3.0, White=2.2, Grey=1.4, Blue=1.1, Brown=0.5, Beige=0.7, Orange=0.6),
                 (("Type", ("Over-ear", "On-ear", "In-ear")),
                  ("Battery", ("{hours} h",)),
                  ("Connectivity", ("Bluetooth 5.3", "Bluetooth 5.0", "Wired")),
                  ("Noise cancelling", ("Yes", "No")))),
    CategorySpec("Watches", ("Watch", "Chronograph", "Diver"), (49, 899), "watch",
                 _w(Black=2.2, Brown=1.8, Grey=1.6, Navy=1.4, White=1.2, Yellow=0.6, Orange=0.6),
                 (("Case", ("{case} mm",)),
                  ("Movement", ("Quartz", "Automatic", "Solar")),
                  ("Water resistance", ("30 m", "50 m", "100 m", "200 m")),
                  ("Strap", ("Leather", "Steel", "Silicone", "Nylon")))),
    CategorySpec("Lamps", ("Lamp", "Lantern", "Sconce"), (19, 249), "lamp",
                 _w(White=2.4, Black=2.2, Brown=1.4, Beige=1.4, Yellow=1.0, Purple=0.5),
                 (("Bulb", ("LED", "Halogen", "Filament LED")),
                  ("Power", ("{watts} W",)),
                  ("Height", ("{cm} cm",)),
                  ("Material", ("Metal", "Glass", "Ceramic", "Wood")))),
    CategorySpec("Cookware", ("Skillet", "Saucepan", "Stockpot", "Wok", "Casserole"), (15, 299), "pan",
                 _w(Black=2.6, Grey=2.0, Red=1.4, Blue=1.1, White=1.0, Purple=0.4, Yellow=0.6),
                 (("Material", ("Cast iron", "Stainless steel", "Aluminium", "Copper", "Ceramic")),
                  ("Diameter", ("{diam} cm",)),
                  ("Induction", ("Yes", "No")),
                  ("Weight", ("{kg} kg",)))),
    CategorySpec("Sunglasses", ("Sunglasses", "Aviators", "Shades"), (19, 289), "sunglasses",
                 _w(Black=3.0, Brown=1.8, Grey=1.4, Navy=1.0, White=0.6, Purple=0.6),
                 (("Lens", ("Polarized", "Gradient", "Mirrored")),
                  ("Frame", ("Acetate", "Metal", "Titanium")),
                  ("UV protection", ("UV400",)),
                  ("Weight", ("{small_g} g",)))),
)

_ADJECTIVES = ("everyday", "lightweight", "durable", "versatile", "classic", "modern", "rugged", "refined")
_BENEFITS = ("built to last for years", "made for daily use", "designed for comfort", "easy to care for",
             "finished with careful detail", "ready for travel")


def _round_price(rng: random.Random, raw: float) -> float:
    ending = rng.choice((0.0, 0.5, 0.99))
    return round(max(1.0, math.floor(raw)) + ending, 2)


def _spec_value(rng: random.Random, template: str) -> str:
    return template.format(
        g=rng.randrange(180, 1400, 10), litres=rng.choice((12, 18, 20, 24, 28, 32, 40)), hours=rng.randrange(8, 61, 2),
        case=rng.choice((36, 38, 40, 42, 44, 46)), watts=rng.choice((4, 6, 9, 12, 15)), cm=rng.randrange(25, 160, 5),
        diam=rng.choice((20, 24, 26, 28, 30, 32)), kg=f"{rng.uniform(0.8, 4.5):.1f}", small_g=rng.randrange(18, 45),
    )


def _assign_categories(rng: random.Random) -> dict[str, list[str]]:
    """Each brand gets 2-4 categories, spread so every category has a similar number of brands."""
    load = {c.name: 0 for c in CATEGORIES}
    result: dict[str, list[str]] = {}
    for brand in BRANDS:
        k = rng.choice((2, 3, 3, 4))
        order = sorted(load, key=lambda c: (load[c], rng.random()))
        chosen = sorted(order[:k])
        for c in chosen:
            load[c] += 1
        result[brand] = chosen
    return result


def _split_counts(rng: random.Random, pairs: list[tuple[str, str]], n_products: int) -> dict[tuple[str, str], int]:
    """Products per (brand, category): an even floor (>= 12 at full size) plus a weighted random remainder."""
    floor = min(12, n_products // len(pairs))
    counts = dict.fromkeys(pairs, floor)
    weights = [rng.uniform(0.5, 2.0) for _ in pairs]
    for pair in rng.choices(pairs, weights=weights, k=n_products - floor * len(pairs)):
        counts[pair] += 1
    return counts


def build_rows(seed: int = 7, n_products: int = 2400) -> list[dict]:
    """All catalog rows as dicts in SCHEMA order (pure; no I/O)."""
    if n_products < 200:
        raise ValueError("n_products must be >= 200 so every (brand, category) pair has products")
    rng = random.Random(seed)
    specs_by_name = {c.name: c for c in CATEGORIES}
    brand_cats = _assign_categories(rng)
    brand_tier = {b: rng.uniform(0.6, 1.8) for b in BRANDS}  # premium brands price higher
    pairs = [(b, c) for b in BRANDS for c in brand_cats[b]]
    counts = _split_counts(rng, pairs, n_products)

    ids = rng.sample(range(1000, 100000), n_products)
    titles: set[str] = set()
    rows: list[dict] = []
    for brand, cat_name in pairs:
        cat = specs_by_name[cat_name]
        colours, cweights = list(cat.colour_weights), list(cat.colour_weights.values())
        lo, hi = cat.price_band
        for _ in range(counts[(brand, cat_name)]):
            noun = rng.choice(cat.nouns)
            while True:
                code = rng.choice(CODE_LETTERS) + "".join(rng.choices(CODE_DIGITS, k=rng.choice((1, 2))))
                title = f"{brand} {rng.choice(MODEL_WORDS)} {noun} {code}"
                if title not in titles:
                    titles.add(title)
                    break
            colour = rng.choices(colours, weights=cweights)[0]
            # log-uniform inside the band; a premium tier (> 1) skews towards the top of the band
            x = rng.random() ** (1 / brand_tier[brand])
            price = _round_price(rng, math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo))))
            rating = round(min(5.0, max(2.5, rng.betavariate(3.2, 1.6) * 2.5 + 2.5)), 1)
            reviews = min(5000, int(rng.lognormvariate(3.6, 1.5)) if rng.random() > 0.05 else 0)
            specs = "; ".join(f"{k}: {_spec_value(rng, rng.choice(v))}" for k, v in cat.specs)
            description = (f"{rng.choice(_ADJECTIVES).capitalize()} {noun.lower()} in {colour.lower()} from {brand}, "
                           f"{rng.choice(_BENEFITS)}. Part of our {cat_name.lower()} range.")
            pid = f"P{ids[len(rows)]:05d}"
            rows.append({
                "product_id": pid, "title": title, "brand": brand, "category": cat_name, "colour": colour,
                "price": price, "margin": round(rng.uniform(0.15, 0.6), 3), "rating": rating,
                "review_count": reviews, "description": description, "specs": specs, "image": f"{pid}.png",
            })
    rows.sort(key=lambda r: r["product_id"])
    return rows


# ---------------------------------------------------------------- images


def _draw_shape(draw, shape: str, fill: tuple[int, int, int], outline: tuple[int, int, int]) -> None:
    """A simple silhouette per category inside the top 240 px of a 320 px tile."""
    kw = {"fill": fill, "outline": outline, "width": 3}
    if shape == "shoe":
        draw.polygon([(50, 190), (60, 110), (120, 110), (150, 150), (260, 170), (275, 200), (50, 205)], **kw)
        draw.rectangle((50, 200, 275, 215), fill=outline)
    elif shape == "jacket":
        draw.polygon([(110, 50), (210, 50), (265, 100), (245, 140), (225, 125), (225, 225), (95, 225), (95, 125),
                      (75, 140), (55, 100)], **kw)
        draw.line((160, 60, 160, 225), fill=outline, width=3)
    elif shape == "backpack":
        draw.rounded_rectangle((90, 60, 230, 225), radius=30, **kw)
        draw.rounded_rectangle((110, 140, 210, 210), radius=12, fill=fill, outline=outline, width=3)
        draw.arc((120, 30, 200, 90), 180, 360, fill=outline, width=6)
    elif shape == "headphones":
        draw.arc((80, 40, 240, 200), 180, 360, fill=outline, width=14)
        draw.rounded_rectangle((65, 120, 115, 210), radius=18, **kw)
        draw.rounded_rectangle((205, 120, 255, 210), radius=18, **kw)
    elif shape == "watch":
        draw.rectangle((135, 30, 185, 230), **kw)  # the strap in the watch's colour: a red watch looks red
        draw.ellipse((100, 70, 220, 190), **kw)
        draw.ellipse((118, 88, 202, 172), fill=(245, 245, 240), outline=outline, width=2)
        draw.line((160, 130, 160, 100), fill=outline, width=4)
        draw.line((160, 130, 185, 140), fill=outline, width=4)
    elif shape == "lamp":
        draw.polygon([(110, 50), (210, 50), (240, 130), (80, 130)], **kw)
        draw.rectangle((154, 130, 166, 210), fill=outline)
        draw.ellipse((110, 205, 210, 230), **kw)
    elif shape == "pan":
        draw.ellipse((50, 90, 210, 210), **kw)
        draw.ellipse((70, 108, 190, 192), fill=tuple(max(0, v - 25) for v in fill))
        draw.rounded_rectangle((205, 138, 290, 160), radius=8, fill=outline)
    else:  # sunglasses
        draw.ellipse((55, 100, 150, 170), **kw)
        draw.ellipse((170, 100, 265, 170), **kw)
        draw.line((150, 120, 170, 120), fill=outline, width=6)
        draw.line((55, 115, 35, 100), fill=outline, width=5)
        draw.line((265, 115, 285, 100), fill=outline, width=5)


def _render_image(row: dict, shape: str) -> bytes:
    """The product's silhouette in its colour, centred on a plain backdrop. No text: real product photos do
    not print the brand or model code, so nothing downstream may learn to read them from the picture."""
    import io

    from PIL import Image, ImageDraw

    colour = COLOURS[row["colour"]]
    backdrop = (247, 247, 245)
    img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), backdrop)
    outline = (60, 60, 64) if sum(colour) > 300 else (15, 15, 18)
    _draw_shape(ImageDraw.Draw(img), shape, colour, outline)
    centred = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), backdrop)
    centred.paste(img.crop((0, 0, IMAGE_SIZE, IMAGE_SIZE - 40)), (0, 40))  # silhouettes sit in the top 240 px
    buf = io.BytesIO()
    centred.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_images(rows: list[dict], images_dir: Path) -> None:
    images_dir.mkdir(parents=True, exist_ok=True)
    shapes = {c.name: c.shape for c in CATEGORIES}
    for row in rows:
        data = _render_image(row, shapes[row["category"]])
        path = images_dir / row["image"]
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)


# ---------------------------------------------------------------- parquet


def _arrow_schema(seed: int, n_products: int):
    import pyarrow as pa

    types = {"string": pa.string(), "double": pa.float64(), "int64": pa.int64()}
    fields = [pa.field(name, types[kind], nullable=False) for name, (kind, _) in SCHEMA.items()]
    meta = {META_GENERATOR: b"services.common.demo_catalog", META_VERSION: GENERATOR_VERSION.encode(),
            META_SEED: str(seed).encode(), META_PRODUCTS: str(n_products).encode()}
    return pa.schema(fields, metadata=meta)


def existing_matches(path: Path, seed: int, n_products: int) -> bool:
    """True if `path` was written by this generator version with the same seed and size, images included."""
    import pyarrow.parquet as pq

    if not path.exists():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # unreadable file: regenerate
        return False
    if (meta.get(META_VERSION), meta.get(META_SEED), meta.get(META_PRODUCTS)) != (
            GENERATOR_VERSION.encode(), str(seed).encode(), str(n_products).encode()):
        return False
    images = pq.read_table(path, columns=["image"]).column("image").to_pylist()
    return all((path.parent / "images" / name).exists() for name in images)


def generate(out_dir: Path, seed: int = 7, n_products: int = 2400) -> Path:
    """Write out_dir/catalog.parquet and out_dir/images/*.png; returns the Parquet path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = build_rows(seed, n_products)
    write_images(rows, out_dir / "images")
    schema = _arrow_schema(seed, n_products)
    table = pa.Table.from_pylist(rows, schema=schema)
    path = out_dir / "catalog.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)  # readers never see a half-written catalog
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the deterministic demo catalog.")
    parser.add_argument("--out", type=Path, default=config.catalog_path().parent,
                        help="output folder (default: parent of INTERAREC_CATALOG_PATH)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--products", type=int, default=2400)
    parser.add_argument("--force", action="store_true", help="regenerate even if an identical catalog exists")
    args = parser.parse_args(argv)
    path = args.out / "catalog.parquet"
    if not args.force and existing_matches(path, args.seed, args.products):
        print(f"catalog up to date: {path} (generator v{GENERATOR_VERSION}, seed {args.seed}, "
              f"{args.products} products); nothing to do")
        return 0
    start = time.perf_counter()
    path = generate(args.out, seed=args.seed, n_products=args.products)
    print(f"wrote {path} and {args.products} images in {path.parent / 'images'} "
          f"(generator v{GENERATOR_VERSION}, seed {args.seed}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
