"""Where the time goes between a shopper's product view and a right panel (issue 17 item 2: measure first).

Replays saved eval sessions (`python -m services.eval capture ...`) through the pipeline's own code, as
`interarec eval score` does, and prints per session, for the first product page the shopper opened:

  cadence   click on the product -> first frame of its page captured (capture client's frame interval and
            the page's render)
  close     that frame -> the window holding the page's first read closed (the window rule: page change,
            idle, full window, or the read itself)
  ocr       OCR + grounding of that window's frames (replay compute on this machine)
  solve     summary + rules decomposer + MNL solve of that window
  good      first product view -> first panel at least half right, counted from the window's close (honest)
            and, for comparison, from the window's newest frame (the accounting before issue 17 item 2)
  share     the session's time-weighted share of right items and its drops (window-close accounting)

then the windows by close reason (how long each waited from its first frame to its close) and the in-session
metrics under both accountings, and on the capture clock alone (each panel from its window's close, no measured
compute: deterministic, so before/after runs on a loaded machine compare decisions only). The Kafka hops and
the storefront are not in a replay: `capture --live` measures them (each stage's span is in the recommendation's trace).

`--trace` also prints, per session, the shopper's hidden preference and every window whose panel or
constraints changed: when it showed, what the reader read in it, the summary, the constraints and the panel
with the items meeting the preference starred (how a low share was diagnosed, issue 17 item 2).

    python -m infra.bench.insession_hops --sessions var/eval/sessions --layout classic [--only ID ...] [--trace]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from services.common import config
from services.common.catalog import Catalog, Product
from services.core.reading import filters as chips
from services.core.reading.reader import FrameReader
from services.eval import insession as ins
from services.eval.replay import Replay, replay_session
from services.eval.runner import persona_intents
from services.shoppers.personas import Persona, library


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def breakdown(directory: Path, catalog: Catalog, reader: FrameReader, persona) -> dict:
    replay = replay_session(directory, catalog, reader)
    start = replay.meta["started_ms"]
    opens = [a for a in replay.meta.get("actions", []) if a["kind"] == "open"]
    views = [f for f in replay.frames if "/p/" in f["url"]]
    row: dict = {"persona": directory.name, "windows": replay.windows, "replay": replay}
    first_view, intents = persona_intents(replay, persona, catalog)
    end = (replay.frames[-1]["capture_ms"] - start) / 1000
    for name, at in (("honest", lambda w: w.shown_ms), ("newest_frame", lambda w: w.capture_ms + w.compute_ms),
                     ("capture_clock", lambda w: w.closed_ms)):
        timeline = [((at(w) - start) / 1000, w.items) for w in replay.windows]
        row[name] = ins.measure(timeline, intents, first_view, end)
    if views:
        pid = views[0]["url"].rsplit("/p/", 1)[1].split("?")[0]
        click = next((a["t_ms"] for a in opens if a["arg"] == pid), None)
        t0 = views[0]["capture_ms"]
        row["cadence_s"] = (t0 - click) / 1000 if click else None
        w = next((w for w in replay.windows if w.closed_ms >= t0 and pid in w.viewed), None)
        if w is not None:
            row["close_s"] = (w.closed_ms - t0) / 1000
            row["ocr_s"] = w.ocr_ms / 1000
            row["solve_s"] = (w.compute_ms - w.ocr_ms) / 1000
            row["reason"] = w.reason
    return row


def _read(o: dict) -> str:
    """One observation in a few words: what kind of page, and what the reader grounded on it."""
    parts = [o["kind"]]
    if o.get("product_id"):
        parts.append(o["product_id"])
    if o.get("category"):
        parts.append(f"category {o['category']}")
    parts += [chips.label(c) for c in o.get("filters", [])]
    if o.get("search_query"):
        parts.append(f"search {o['search_query']!r}")
    return " ".join(parts)


def _item(p: Product, right: bool) -> str:
    return f"{p.category} {p.brand} {p.colour} ${p.price:,.0f} r{p.rating:.1f}{'*' if right else ''}"


def trace(replay: Replay, persona: Persona, catalog: Catalog) -> list[str]:
    """The session window by window, where its panel or constraints changed: seconds since the session started
    when the panel showed, the close reason, the reads in the window, constraints, summary and the panel
    (* = meets the intent active then)."""
    start = replay.meta["started_ms"]
    _, intents = persona_intents(replay, persona, catalog)
    lines = [f"### {replay.directory.name}: wants {persona.describe()}"]
    last = None
    for w in replay.windows:
        t = (w.shown_ms - start) / 1000
        if (w.constraints, w.items) == last:
            continue
        last = (w.constraints, w.items)
        right = ins._intent_at(intents, t)
        good = sum(1 for pid in w.items if right(pid))
        reads = "; ".join(_read(replay.observations[q]) for q in w.frame_seqs if q in replay.observations)
        lines += [f"- {t:.2f} s ({w.reason}) {good}/{len(w.items)} right; read: {reads or '-'}",
                  f"  constraints: {w.constraints}",
                  f"  summary: {w.narrative}",
                  "  panel: " + "; ".join(_item(catalog.by_id[pid], right(pid)) for pid in w.items)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default=str(config.var_dir() / "eval" / "sessions"))
    parser.add_argument("--layout", action="append", default=None)
    parser.add_argument("--personas", default=str(Path(__file__).parents[2] / "services" / "shoppers"
                                                  / "personas-heldout.toml"))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--trace", action="store_true", help="print each session window by window")
    args = parser.parse_args(argv)
    catalog = Catalog.load(config.catalog_path())
    personas = {p.id: p for p in library(catalog, Path(args.personas))}
    for layout in args.layout or ["classic"]:
        reader = FrameReader(catalog)
        dirs = sorted(p for p in (Path(args.sessions) / layout).iterdir() if (p / "session.json").exists())
        dirs = [d for d in dirs if not args.only or d.name in args.only]
        rows = [breakdown(d, catalog, reader, personas[d.name]) for d in dirs]
        if args.trace:
            for r in rows:
                print("\n" + "\n".join(trace(r["replay"], personas[r["persona"]], catalog)))
        print(f"\n## {layout}: first product view, per hop (seconds)\n")
        print("| persona | cadence | close (reason) | ocr | summary+rules+solve | first good (close) | "
              "first good (newest frame) | share | drops |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            h, o = r.get("honest"), r.get("newest_frame")
            print(f"| {r['persona']} | {_fmt(r.get('cadence_s'))} | {_fmt(r.get('close_s'))} ({r.get('reason', '-')})"
                  f" | {_fmt(r.get('ocr_s'))} | {_fmt(r.get('solve_s'))} | {_fmt(h.first_good_s if h else None)} | "
                  f"{_fmt(o.first_good_s if o else None)} | {_fmt(h.share if h else None)} | {h.drops if h else '-'} |")
        windows = [w for r in rows for w in r["windows"]]
        print("\n| close reason | windows | median wait first frame -> close s | median ocr s | median solve s |")
        print("|---|---|---|---|---|")
        for reason in sorted({w.reason for w in windows}):
            sel = [w for w in windows if w.reason == reason]
            print(f"| {reason} | {len(sel)} | {_median([(w.closed_ms - w.first_capture_ms) / 1000 for w in sel])}"
                  f" | {_median([w.ocr_ms / 1000 for w in sel])} | "
                  f"{_median([(w.compute_ms - w.ocr_ms) / 1000 for w in sel])} |")
        print("\n| accounting | sessions | share | first good median / p90 s | drops (single intent) | "
              "switch followed s |")
        print("|---|---|---|---|---|---|")
        for name in ("honest", "newest_frame", "capture_clock"):
            m = [r[name] for r in rows if r.get(name) is not None]
            good = [x.first_good_s for x in m if x.first_good_s is not None]
            p90 = ins.quantile(good, 0.9)
            follow = [_fmt(x.follow_s) for x in m if x.switched]
            print(f"| {name} | {len(m)} | {statistics.mean(x.share for x in m):.3f} | "
                  f"{_median(good)} / {_fmt(p90)} | {sum(x.drops for x in m if not x.switched)} | "
                  f"{', '.join(follow) or '-'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
