"""Capture the reader's benchmark fixture: real Chromium screenshots of both demo-shop layouts.

    python -m infra.bench.capture_screens [--out tests/fixtures/screens] [--products 12]

Per layout: the home page, a filtered category listing, a search, a comparison page and product pages
(some scrolled a little, all with our "Recommended for you" panel filled with other products), as JPEG q80
at 1280x800 like the capture agent sends. `manifest.json` records the ground truth of every frame: the
product being viewed (or none), the products in the panel and in promotional banners (which must never
count as viewed). The demo catalog is the default one (seed 7, 2,400 products).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local.served import Served
from services.common.catalog import Catalog
from services.common.demo_catalog import generate
from services.demo_shop import merchandising
from services.demo_shop.app import LAYOUTS, create_app
from services.shoppers.shopper import VIEWPORT, chromium_launch_options

# What static/panel.js renders for a recommendation event (the storefront API is not running here).
FILL_PANEL = """(items) => {
  const list = document.getElementById('rec-items');
  list.textContent = '';
  for (const it of items) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.className = 'rec-card';
    a.href = '/p/' + it.product_id;
    const img = document.createElement('img');
    img.src = '/images/' + it.image;
    a.appendChild(img);
    const text = document.createElement('span');
    text.className = 'rec-text';
    for (const [cls, value] of [['rec-title', it.title], ['rec-brand', it.brand], ['rec-price', it.price]]) {
      const span = document.createElement('span');
      span.className = cls;
      span.textContent = value;
      text.appendChild(span);
    }
    a.appendChild(text);
    li.appendChild(a);
    list.appendChild(li);
  }
  document.getElementById('rec-status').hidden = true;
  const why = document.getElementById('rec-why');
  why.textContent = 'Why: Viewed 2 products, mostly ' + items[0].brand + ' in ' + items[0].title;
  why.hidden = false;
}"""


def _shop(catalog: Catalog, layout: str) -> Served:
    """The demo shop in `layout` on a free port, served while the `with` block runs."""
    return Served(create_app(catalog, "http://127.0.0.1:9", layout=layout), lifespan=False, ready_path=None)


@contextmanager
def shop_page() -> Iterator:
    """A page of the shoppers' Chromium at their viewport, the browser closed when the `with` block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch_options())
        try:
            yield browser.new_page(viewport=VIEWPORT)
        finally:
            browser.close()


def fill_panel(page, panel: list) -> None:
    """Our panel on the loaded page filled with `panel`'s products, as static/panel.js renders them."""
    page.evaluate(FILL_PANEL, [{"product_id": p.product_id, "title": p.title, "brand": p.brand,
                                "price": f"${p.price:,.2f}", "image": p.image} for p in panel])


def _shoot(page, url: str, path: str, panel: list, scroll: int, settle_ms: int) -> tuple[bytes, list[str]]:
    """One page as a visitor sees it, our panel filled with `panel`: (JPEG, ids of the products its promotions
    name)."""
    page.goto(url + path, wait_until="load")
    fill_panel(page, panel)
    if scroll:
        page.evaluate(f"window.scrollTo(0, {scroll})")
    page.wait_for_timeout(settle_ms)
    data = page.screenshot(type="jpeg", quality=80)
    promos = page.eval_on_selector_all("[data-promo-product]", "els => els.map(e => e.dataset.promoProduct)")
    return data, promos


def capture(catalog: Catalog, out: Path, n_products: int, seed: int = 9) -> list[dict]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    frames: list[dict] = []
    with shop_page() as page:
        for layout in LAYOUTS:
            with _shop(catalog, layout) as served:
                url = served.url
                viewed = rng.sample(catalog.products, n_products)
                others = [p for p in catalog.products if p not in viewed]

                def shot(path: str, name: str, product=None, scroll: int = 0, layout=layout, url=url,
                         others=others) -> None:
                    panel = rng.sample(others, 4)
                    data, promos = _shoot(page, url, path, panel, scroll, settle_ms=120)
                    file = f"{layout}-{name}.jpg"
                    (out / file).write_bytes(data)
                    frames.append({"file": file, "layout": layout, "url": url.split(":")[0] + "://shop" + path,
                                   "scroll": scroll, "product_id": product.product_id if product else None,
                                   "panel_ids": [p.product_id for p in panel], "promo_ids": promos})

                shot("/", "home")
                first = viewed[0]
                shot(f"/c/{first.category}?colour={first.colour}", "listing")
                shot(f"/search?q={first.brand.lower()}", "search")
                ids = [first] + merchandising.similar(first, catalog)
                shot("/compare?ids=" + ",".join(p.product_id for p in ids), "compare")
                for i, p in enumerate(viewed):
                    shot(f"/p/{p.product_id}", f"product-{i:02d}", product=p, scroll=rng.choice((0, 0, 0, 50, 100)))
    return frames


def theme_frames(catalog: Catalog, numbers: list[int], n_products: int = 10, seed: int = 11):
    """Yield (frame, PIL image) per screenshot of each seeded theme (services/demo_shop/themes.py), in capture
    order per theme: home, a filtered listing, a search, a comparison page and n_products product pages
    (some scrolled), with our panel filled; cookie banners are left as a visitor first sees them. The
    products are drawn per theme from `seed`, so a theme's frames are the same on every run."""
    import io

    from PIL import Image

    from services.demo_shop.themes import theme

    with shop_page() as page:
        for number in numbers:
            layout = theme(number).layout
            rng = random.Random(f"{seed}-{number}")
            with _shop(catalog, layout) as served:
                url = served.url
                viewed = rng.sample(catalog.products, n_products)
                others = [p for p in catalog.products if p not in viewed]
                first = viewed[0]
                pages = [("/", "home", None), (f"/c/{first.category}?colour={first.colour}", "listing", None),
                         (f"/search?q={first.brand.lower()}", "search", None),
                         ("/compare?ids=" + ",".join(p.product_id for p in [first]
                                                     + merchandising.similar(first, catalog)), "compare", None)]
                pages += [(f"/p/{p.product_id}", f"product-{i:02d}", p) for i, p in enumerate(viewed)]
                for path, name, product in pages:
                    panel = rng.sample(others, 4)
                    scroll = rng.choice((0, 0, 0, 60, 140)) if product else 0
                    data, promos = _shoot(page, url, path, panel, scroll, settle_ms=80)
                    frame = {"file": f"{layout}-{name}.jpg", "layout": layout, "url": "http://shop" + path,
                             "scroll": scroll, "product_id": product.product_id if product else None,
                             "panel_ids": [p.product_id for p in panel], "promo_ids": promos}
                    with Image.open(io.BytesIO(data)) as im:
                        yield frame, im.convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/screens"))
    parser.add_argument("--products", type=int, default=12, help="product pages per layout")
    args = parser.parse_args()
    catalog = Catalog.load(generate(Path("var/catalog")))
    frames = capture(catalog, args.out, args.products)
    (args.out / "manifest.json").write_text(json.dumps({"catalog": "demo seed 7, 2400 products", "viewport": VIEWPORT,
                                                        "frames": frames}, indent=1) + "\n")
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"{len(frames)} frames, {size / 1e6:.1f} MB in {args.out}")


if __name__ == "__main__":
    main()
