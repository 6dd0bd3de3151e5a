"""Deterministic in-code catalogs for domain unit tests (no Parquet, no images)."""

from __future__ import annotations

import numpy as np

from services.common.catalog import Catalog, Product

# category -> median price; spread over two orders of magnitude like a real electronics shop
CATEGORIES: dict[str, float] = {
    "Laptops": 900.0,
    "Headphones": 120.0,
    "Smartphones": 600.0,
    "Cameras": 700.0,
    "Monitors": 300.0,
    "Keyboards": 80.0,
    "Speakers": 150.0,
    "Smartwatches": 250.0,
}
BRANDS = ["Acme", "Borealis", "Cobalt", "Dynamo", "Everest", "Fjord", "Granite", "Helix"]
COLOURS = ["black", "white", "silver", "grey", "blue", "red", "green", "gold"]
# Each brand makes three colours only, so some brand+colour combinations are guaranteed to be empty.
PALETTES = {brand: [COLOURS[(i + j) % len(COLOURS)] for j in range(3)] for i, brand in enumerate(BRANDS)}


def make_catalog(n: int = 240, seed: int = 0) -> Catalog:
    """n products cycling through categories and brands; prices lognormal around the category median."""
    rng = np.random.default_rng(seed)
    cats = list(CATEGORIES)
    products = []
    for i in range(n):
        category = cats[i % len(cats)]
        brand = BRANDS[(i // len(cats)) % len(BRANDS)]
        colour = PALETTES[brand][int(rng.integers(3))]
        price = round(float(CATEGORIES[category] * rng.lognormal(0.0, 0.35)), 2)
        products.append(
            Product(
                product_id=f"P{i:05d}",
                title=f"{brand} {category[:-1]} {i}",
                brand=brand,
                category=category,
                colour=colour,
                price=max(price, 1.0),
                margin=round(float(rng.uniform(0.1, 0.5)), 3),
                rating=round(float(rng.uniform(3.0, 5.0)), 1),
                review_count=int(rng.integers(0, 2000)),
                description=f"A {colour} {category[:-1].lower()} by {brand}.",
                specs=f"colour: {colour}; series: {i % 5}",
                image=f"P{i:05d}.jpg",
            )
        )
    return Catalog(products)


def demo_catalog() -> Catalog:
    """The demo shop's generated catalog (2,400 products, seed 7), built in memory: the rules' tests on the products
    the shoppers browse."""
    from services.common.demo_catalog import build_rows

    return Catalog([Product(**row) for row in build_rows(seed=7, n_products=2400)])


def demo_panel(catalog: Catalog, views: list[Product], k: int = 8, order: int = 0, colour_filter: str = ""):
    """(the panel the optimizer shows, the request) after the rules decomposer read `views` (one grounded view each,
    oldest first), with the listing's sort order and a colour filter the shopper set, if any."""
    from interarec.v1 import summaries_pb2
    from services.core.assortment.mnl import solve_request
    from services.core.decompose.rules import decompose
    from services.core.reading.summary import add_views

    summary = summaries_pb2.BehaviourSummary(session_id="s", tenant="demo", window_seq=1, listing_sort_order=order)
    add_views(summary, [(p, 2, 0.95) for p in views])
    if colour_filter:
        summary.ui_filter_fields.add(field=summaries_pb2.UiFilter.FIELD_COLOUR, value=colour_filter)
    request = decompose(summary, catalog, k=k)
    solved = solve_request(catalog, request)
    return [catalog.products[int(solved.candidates[i])] for i in solved.assortment.indices], request
