"""Product pages of seeded themes with the shop's own column on the right and our panel hidden or under the page: the
test input for the reader's first-frame panel rule (`RegionReader._find_panel`), which once took any column right of
60% of the width for our panel's cards when its heading was not in sight.

The themes render as always; at capture the gallery is widened to 760 px (the buy box then starts right of 60% of the
width) and our panel is hidden ("off") or moved under the page, out of sight ("below"). Saved as PNG with a manifest
that `reader_bench --frames DIR --first-page` reads:

    python -m infra.bench.own_column_frames /tmp/own --themes 5,24,30,33
    python -m infra.bench.reader_bench --themes 33 --frames /tmp/own --first-page
"""

from __future__ import annotations

import argparse
import io
import json
import random
from pathlib import Path

from infra.bench.capture_screens import _shop, fill_panel, shop_page
from services.common.catalog import Catalog
from services.common.demo_catalog import generate
from services.demo_shop.themes import theme

WIDE_GALLERY = ".page{grid-template-columns:minmax(0,1fr)} .gallery img{width:760px;height:500px}"
MODES = {"off": ".rec-panel{display:none} " + WIDE_GALLERY, "below": WIDE_GALLERY}


def capture(catalog: Catalog, out: Path, numbers: list[int], n_products: int = 4) -> list[dict]:
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    frames: list[dict] = []
    with shop_page() as page:
        for number in numbers:
            layout = theme(number).layout
            rng = random.Random(f"aside-{number}")
            with _shop(catalog, layout) as served:
                for i, product in enumerate(rng.sample(catalog.products, n_products)):
                    for mode, css in MODES.items():
                        page.goto(served.url + f"/p/{product.product_id}", wait_until="load")
                        panel = rng.sample(catalog.products, 4)
                        fill_panel(page, panel)
                        page.add_style_tag(content=css)
                        page.wait_for_timeout(120)
                        name = f"{layout}-aside-{mode}-{i:02d}.png"
                        with Image.open(io.BytesIO(page.screenshot(type="png"))) as im:
                            im.convert("RGB").save(out / name)
                        frames.append({"file": name, "layout": layout, "url": f"http://shop/p/{product.product_id}",
                                       "scroll": 0, "product_id": product.product_id,
                                       "panel_ids": [p.product_id for p in panel], "promo_ids": [], "panel_left": None})
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--themes", default="5,24,30,33", help="comma-separated theme numbers (image on the left)")
    args = parser.parse_args()
    catalog = Catalog.load(generate(Path("var/catalog")))
    frames = capture(catalog, args.out, [int(n) for n in args.themes.split(",")])
    (args.out / "manifest.json").write_text(json.dumps({"frames": frames}, indent=1) + "\n")
    print(f"{len(frames)} frames in {args.out}")


if __name__ == "__main__":
    main()
