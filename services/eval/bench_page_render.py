"""Benchmark: which DOM renderer the capture script should use. Prints a table; not a test.

For each page of the demo shop (both layouts, 1280x800, real Chromium), interleaved on the same page state:
each candidate renders the viewport in the page (main-thread long-task time and wall time per frame, JPEG
bytes), and Playwright takes a screenshot as the reference. The reader (OCR + grounding, the summarizer's
embedded backend) then reads every frame, and its product grounding is scored against the page's truth (the
product of a product page, the product tiles visible in a listing): precision and recall per source.

    make capture-js && (cd capture-js && node build.mjs --bench)
    .venv/bin/python -m services.eval.bench_page_render [--pages 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from infra.local.served import Served
from services.common.catalog import Catalog
from services.common.demo_catalog import generate
from services.core.reading.reader import FrameReader
from services.demo_shop.app import create_app
from services.shoppers.shopper import VIEWPORT, chromium_launch_options

BENCH_BUNDLE = Path(__file__).resolve().parents[2] / "capture-js" / "dist" / "bench-renderers.js"
CANDIDATES = (
    "modern-screenshot, fresh context, whole page (before)",
    "modern-screenshot, reused context, whole page",
    "modern-screenshot, reused context, viewport clip (shipped)",
    "html-to-image",
)
REFERENCE = "playwright"
VISIBLE_TILES = """() => [...document.querySelectorAll('main [data-role=product-link][data-product-id]')]
  .filter((a) => { const r = a.getBoundingClientRect();
                   return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; })
  .map((a) => a.dataset.productId)"""




def pages_for(catalog: Catalog, n: int) -> list[tuple[str, int]]:
    """(path, scroll px): a listing, a search, and product pages, some scrolled."""
    products = catalog.products[:: max(1, len(catalog.products) // n)][:n]
    out = [(f"/c/{catalog.categories[0]}", 0), (f"/search?q={products[0].brand}", 300)]
    out += [(f"/p/{p.product_id}", 0 if i % 2 == 0 else 220) for i, p in enumerate(products)]
    return out


def truth(path: str, tiles: list[str]) -> set[str]:
    return {path.split("/p/")[1]} if path.startswith("/p/") else set(tiles)


def read_ids(reader: FrameReader, image: Image.Image, url: str) -> set[str]:
    obs = reader.observe(image, page_url=url)
    return ({obs.product_id} if obs.product_id else set()) | set(obs.listing_product_ids)


async def measure(shop: str, pages: list[tuple[str, int]], rounds: int) -> dict:
    from playwright.async_api import async_playwright

    frames: dict[str, list[tuple[str, Image.Image, set[str]]]] = defaultdict(list)
    cost: dict[str, list[dict]] = defaultdict(list)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium_launch_options())
        page = await browser.new_page(viewport=VIEWPORT)
        for path, scroll in pages:
            await page.goto(shop + path, wait_until="load")
            await page.add_script_tag(path=str(BENCH_BUNDLE))
            await page.evaluate(f"window.scrollTo(0, {scroll})")
            await page.wait_for_timeout(300)
            ids = truth(path, await page.evaluate(VISIBLE_TILES))
            shot = Image.open(io.BytesIO(await page.screenshot(type="jpeg", quality=70)))
            frames[REFERENCE].append((shop + path, shot, ids))
            for r in range(rounds):  # interleaved, order alternating: the machine's noise hits both alike
                for name in CANDIDATES if r % 2 == 0 else CANDIDATES[::-1]:
                    got = await page.evaluate("(n) => window.benchRender(n)", name)
                    got["first"] = r == 0  # first frame on a freshly loaded page: every cache cold
                    cost[name].append(got)
                    if r == 0:
                        raw = base64.b64decode(got["dataUrl"].split(",", 1)[1])
                        frames[name].append((shop + path, Image.open(io.BytesIO(raw)), ids))
        await browser.close()
    return {"frames": frames, "cost": cost}


def pixel_difference(
    frames: list[tuple[str, Image.Image, set[str]]], reference: list[tuple[str, Image.Image, set[str]]]
) -> float:
    """Median over page states of the mean absolute grey-level difference (0-255) from the reference."""
    diffs = []
    for (_, image, _), (_, ref, _) in zip(frames, reference, strict=True):
        a = image.convert("L").resize(ref.size)
        diffs.append(ImageStat.Stat(ImageChops.difference(a, ref.convert("L"))).mean[0])
    return statistics.median(diffs)


def score(catalog: Catalog, frames: list[tuple[str, Image.Image, set[str]]]) -> tuple[float, float]:
    reader = FrameReader(catalog)
    tp = fp = fn = 0
    for url, image, ids in frames:
        got = read_ids(reader, image.convert("RGB"), url)
        tp += len(got & ids)
        fp += len(got - ids)
        fn += len(ids - got)
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=6, help="product pages per layout")
    parser.add_argument("--rounds", type=int, default=2, help="timed renders per candidate and page")
    args = parser.parse_args(argv)
    if not BENCH_BUNDLE.is_file():
        parser.error(f"{BENCH_BUNDLE} missing: cd capture-js && node build.mjs --bench")
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog.load(generate(Path(tmp) / "catalog", seed=7, n_products=1200))
        rows = []
        for layout in ("classic", "boutique"):
            with Served(create_app(catalog, "http://127.0.0.1:9", layout=layout), lifespan=False,
                        ready_path=None) as served:
                got = asyncio.run(measure(served.url, pages_for(catalog, args.pages), args.rounds))
            for name in (*CANDIDATES, REFERENCE):
                precision, recall = score(catalog, got["frames"][name])
                c = got["cost"].get(name, [])
                first = [x for x in c if x["first"]]
                diff = pixel_difference(got["frames"][name], got["frames"][REFERENCE])
                rows.append(
                    (
                        layout,
                        name,
                        statistics.median(x["longTaskMs"] for x in c) if c else None,
                        statistics.median(x["maxTaskMs"] for x in c) if c else None,
                        statistics.median(x["maxTaskMs"] for x in first) if first else None,
                        statistics.median(x["wallMs"] for x in c) if c else None,
                        statistics.mean(x["bytes"] for x in c) if c else None,
                        precision,
                        recall,
                        diff,
                        len(got["frames"][name]),
                    )
                )
    print(
        "| layout | renderer | long tasks / frame (median ms) | longest task / frame (median ms) | "
        "longest task, first frame on a page (median ms) | wall / frame (median ms) | KB / frame | "
        "MB / shopper-minute at 1 fps | grounding precision | grounding recall | "
        "grey-level difference from the screenshot | frames |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for layout, name, lt, longest, first, wall, size, p, r, diff, n in rows:
        kb = f"{size / 1024:.0f}" if size else "n/a"
        mb_min = f"{size * 60 / 1e6:.1f}" if size else "n/a"
        lt_ms = f"{lt:.0f}" if lt is not None else "n/a"
        longest_ms = f"{longest:.0f}" if longest is not None else "n/a"
        first_ms = f"{first:.0f}" if first is not None else "n/a"
        wall_ms = f"{wall:.0f}" if wall is not None else "n/a"
        print(
            f"| {layout} | {name} | {lt_ms} | {longest_ms} | {first_ms} | {wall_ms} | {kb} | {mb_min} | "
            f"{p:.2f} | {r:.2f} | {diff:.1f} | {n} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
