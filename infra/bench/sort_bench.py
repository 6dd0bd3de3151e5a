"""How often the reader reads a listing's chosen sort order right, wrong or not at all, per layout.

    python -m infra.bench.sort_bench --layouts classic,boutique --themes 8 [--save DIR]   # capture and read
    python -m infra.bench.sort_bench --frames DIR                # read the frames saved by --save again
    python -m infra.bench.sort_bench --sessions DIR [DIR ...]    # recorded sessions (services/eval capture)

Captured: headless Chromium renders `/c/<category>?sort=<order>` for every order the demo shop offers, in each
category given, on each layout (classic, boutique, theme-<n>), with our panel filled (infra/bench/capture_screens.py),
as JPEG q80 at 1280x800 like the capture agent sends; `--save` keeps the decoded pixels as PNG with a manifest, so
another version of the reader can read the same pixels. Each frame is read by a fresh reader with the DEFAULT profile
(nothing of the shop learned before), and its `sort_order` compared with the order the URL asked for.

Recorded sessions: every frame of a category listing (`/c/...`) in the sessions under each folder (a session is a
folder with session.json and frames.jsonl), its truth the URL's `sort` (the shop's default, "popular", when absent),
read by a fresh reader per frame. Scrolled frames no longer show the control, so "not read" is expected there;
a listing visit (consecutive frames of one URL) counts as read right when any of its frames is, wrong when any is.

Prints per layout: frames, right, wrong, not read, and the reader's CPU seconds per frame (this process, noisy on a
shared machine: compare rows of one run); then right / wrong when the same reader reads the frame again (it knows
where our panel is and has the header's lines already, as on a listing's second frame in a session: more of the read
budget reaches the page). A wrong read is worse than none: it leans the panel the wrong way.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from infra.bench.reader_bench import cpu_s
from services.common.catalog import Catalog
from services.common.demo_catalog import generate
from services.core.reading.reader import FrameReader
from services.demo_shop.queries import SORTS

# the demo shop's sort keys -> the reader's closed set (profile.SORT_ORDERS); "popular" is its default
TRUTH = {"popular": "relevance", "price_asc": "price_asc", "price_desc": "price_desc", "rating": "rating_desc"}


@dataclass
class Tally:
    right: int = 0
    wrong: int = 0
    unread: int = 0
    cpu: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    again: Tally | None = None  # the same frames read a second time by the same reader

    def add(self, name: str, want: str, got: str | None, seconds: float) -> None:
        self.cpu.append(seconds)
        if got == want:
            self.right += 1
        elif got is None:
            self.unread += 1
            self.misses.append(f"{name}: not read")
        else:
            self.wrong += 1
            self.misses.append(f"{name}: {got} (want {want})")


def captured(catalog: Catalog, layouts: list[str], categories: list[str], save: Path | None,
             seed: int = 17) -> Iterator[tuple[dict, Image.Image]]:
    """(frame, image) per listing with a chosen order, each layout served in turn on a free port."""
    from infra.bench.capture_screens import _shoot, _shop, shop_page

    rng = random.Random(seed)
    frames = []
    with shop_page() as page:
        try:
            for layout in layouts:
                with _shop(catalog, layout) as served:
                    for category in categories:
                        for key in SORTS:
                            path = f"/c/{category}?sort={key}"
                            data, _ = _shoot(page, served.url, path, rng.sample(catalog.products, 4), 0, 120)
                            frame = {"file": f"{layout}-{category}-{key}.png", "layout": layout,
                                     "url": "http://shop" + path, "sort": key}
                            with Image.open(io.BytesIO(data)) as im:
                                image = im.convert("RGB")
                            if save:
                                save.mkdir(parents=True, exist_ok=True)
                                image.save(save / frame["file"])
                                frames.append(frame)
                            yield frame, image
        finally:
            if save and frames:
                (save / "manifest.json").write_text(json.dumps({"frames": frames}, indent=1) + "\n")


def saved(folder: Path) -> Iterator[tuple[dict, Image.Image]]:
    for frame in json.loads((folder / "manifest.json").read_text())["frames"]:
        with Image.open(folder / frame["file"]) as im:
            yield frame, im.convert("RGB")


def session_frames(folders: list[Path]) -> Iterator[tuple[dict, Image.Image]]:
    """(frame, image) per category-listing frame of the recorded sessions under `folders`, with its visit."""
    for folder in folders:
        for meta in sorted(folder.rglob("session.json")):
            session = meta.parent
            layout = json.loads(meta.read_text())["layout"]
            visit, last = 0, None
            for row in map(json.loads, (session / "frames.jsonl").read_text().splitlines()):
                url = urlsplit(row["url"])
                if url.geturl() != last:
                    visit, last = visit + 1, url.geturl()
                if not url.path.startswith("/c/"):
                    continue
                key = parse_qs(url.query).get("sort", ["popular"])[0]
                frame = {"file": f"{session.name}/{row['file']}", "layout": layout, "sort": key,
                         "url": "http://shop" + url.path + (f"?{url.query}" if url.query else ""),
                         "visit": f"{session}#{visit}"}
                with Image.open(session / row["file"]) as im:
                    yield frame, im.convert("RGB")


def read(frames: Iterator[tuple[dict, Image.Image]], catalog: Catalog) -> tuple[dict[str, Tally], dict[str, Tally]]:
    """(per layout: frames, per layout: listing visits). Identical pixels are read once (sessions repeat frames)."""
    per_frame: dict[str, Tally] = {}
    visits: dict[str, dict[str, tuple[str, set]]] = {}
    memo: dict[bytes, tuple[str | None, float, str | None]] = {}
    FrameReader(catalog).observe(Image.new("RGB", (64, 64), "white"))  # engine start-up, once
    for frame, image in frames:
        key = hashlib.blake2b(image.tobytes(), digest_size=16).digest()
        if key not in memo:
            reader = FrameReader(catalog)  # fresh: nothing of the shop learned before
            start = cpu_s()
            obs = reader.observe(image, page_url=frame["url"])
            seconds = cpu_s() - start
            # read again: where our panel is and the lines read before are known then (a page shown for a while)
            memo[key] = (obs.sort_order, seconds, reader.observe(image, page_url=frame["url"]).sort_order)
        got, seconds, again = memo[key]
        want = TRUTH[frame["sort"]]
        tally = per_frame.setdefault(frame["layout"], Tally(again=Tally()))
        tally.add(frame["file"], want, got, seconds)
        tally.again.add(frame["file"], want, again, 0.0)
        if "visit" in frame:
            visits.setdefault(frame["layout"], {}).setdefault(frame["visit"], (want, set()))[1].add(got)
    per_visit: dict[str, Tally] = {}
    for layout, by_visit in visits.items():
        for name, (want, got) in by_visit.items():
            wrong = sorted(g for g in got if g not in (None, want))
            per_visit.setdefault(layout, Tally()).add(name, want, wrong[0] if wrong else want if want in got
                                                      else None, 0.0)
    return per_frame, per_visit


def report(tallies: dict[str, Tally], unit: str = "frames", cpu: bool = True) -> str:
    """One row per layout; with `cpu`, the first read's CPU and the second read's right / wrong too."""
    rows = [f"| layout | {unit} | right | wrong | not read |"
            + (" CPU s/frame mean | read again: right / wrong |" if cpu else ""),
            "|---|---|---|---|---|" + ("---|---|" if cpu else "")]
    total, again = Tally(), Tally()

    def row(name: str, t: Tally, a: Tally | None) -> str:
        return (f"| {name} | {len(t.cpu)} | {t.right} | {t.wrong} | {t.unread} |"
                + (f" {statistics.mean(t.cpu):.3f} | {a.right} / {a.wrong} |" if cpu and a and t.cpu else ""))

    for layout, t in tallies.items():
        rows.append(row(layout, t, t.again))
        for sum_, part in ((total, t), (again, t.again)):
            if part is not None:
                sum_.right, sum_.wrong, sum_.unread = sum_.right + part.right, sum_.wrong + part.wrong, \
                    sum_.unread + part.unread
                sum_.cpu += part.cpu
    rows.append(row("all", total, again))
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="classic,boutique", help="comma-separated layouts to capture")
    parser.add_argument("--themes", type=int, default=0, help="also capture theme-1..N")
    parser.add_argument("--from-theme", type=int, default=1, metavar="M", help="with --themes: start at theme-M")
    parser.add_argument("--categories", default="Watches,Lamps", help="comma-separated categories to list")
    parser.add_argument("--save", type=Path, help="keep the captured frames here (PNG + manifest.json)")
    parser.add_argument("--frames", type=Path, help="read the frames saved by --save instead of capturing")
    parser.add_argument("--sessions", type=Path, nargs="+", help="read the recorded sessions' listing frames")
    parser.add_argument("--catalog-dir", type=Path, default=Path("var/catalog"))
    parser.add_argument("--misses", action="store_true", help="list every frame not read right")
    args = parser.parse_args()
    catalog = Catalog.load(generate(args.catalog_dir))
    if args.sessions:
        frames = session_frames(args.sessions)
    elif args.frames:
        frames = saved(args.frames)
    else:
        layouts = [s for s in args.layouts.split(",") if s]
        layouts += [f"theme-{n}" for n in range(args.from_theme, args.themes + 1)]
        frames = captured(catalog, layouts, args.categories.split(","), args.save)
    per_frame, per_visit = read(frames, catalog)
    print(report(per_frame))
    if per_visit:
        print("\nlisting visits (right: a frame of the visit read right, none wrong)\n")
        print(report(per_visit, "visits", cpu=False))
    if args.misses:
        for layout, t in per_frame.items():
            for miss in t.misses:
                print(f"{layout}: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
