"""`python -m services.eval` (also `interarec eval`): persona library through InteraRec and baselines.

  capture   browse every persona in headless Chromium on the demo shop (one layout) and save the sessions;
            with --live the whole pipeline runs too (real Kafka and services) and its recommendations are kept
  score     replay saved sessions through the pipeline's own code (no browser, no Kafka), run the baselines on
            the same sessions, and write markdown/CSV tables and PNG plots
  run       capture, then score

`--layout classic --layout boutique --themes 4` runs the personas on both layouts and the themes sample
theme-1..4; the in-session table has a line per layout and one for the themes together.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

from services.common import config
from services.common.catalog import Catalog, CatalogError


def _progress(total: int, label: str):
    """A one-line progress bar on stderr: [#####.....] 5/24 label."""
    started = time.monotonic()

    def show(done: int, note: str = "") -> None:
        width = 24
        filled = int(width * done / max(total, 1))
        eta = (time.monotonic() - started) / max(done, 1) * (total - done) if done else 0
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label} "
                         f"{note[:40]:<40} eta {eta:4.0f}s")
        sys.stderr.flush()
        if done == total:
            sys.stderr.write("\n")
    return show


def capture(args, catalog: Catalog) -> Path:
    from infra.kafka import broker as kafka_broker
    from infra.local.stack import Ports, Stack
    from services.eval.live import record_session
    from services.shoppers.personas import library

    personas = library(catalog, Path(args.personas), args.only)
    out = Path(args.sessions) / args.layout
    out.mkdir(parents=True, exist_ok=True)
    var = config.var_dir()
    ports = Ports(*kafka_broker.free_ports(6))
    kafka = None
    os.environ["INTERAREC_SHOP_LAYOUT"] = args.layout  # passed through to the demo shop by Stack
    bootstrap = "unused:9092"
    if args.live:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not bootstrap:
            kafka = kafka_broker.start()
            bootstrap = kafka.bootstrap
        from services.common.topics import apply_topics
        apply_topics(bootstrap)
    stack = Stack(bootstrap=bootstrap, catalog_path=config.catalog_path(), log_dir=var / "eval" / "logs",
                  var_dir=var, ports=ports)
    try:
        stack.start(progress=lambda line: None, only=None if args.live else ("demo-shop",))
        bar = _progress(len(personas), f"sessions ({args.layout}{', live' if args.live else ''})")
        bar(0)
        failed = []
        for n, persona in enumerate(personas, 1):
            for attempt in (1, 2):  # a browser timeout on a loaded machine is worth one more try
                try:
                    record_session(persona, catalog, out, stack.shop_url, args.layout,
                                   gateway_url=stack.gateway_url if args.live else None, api_key=stack.api_key,
                                   storefront_url=stack.storefront_url if args.live else None, fps=args.fps)
                    break
                except Exception as exc:  # noqa: BLE001 - one persona must not end the whole run
                    print(f"\n{persona.id}: attempt {attempt} failed: {type(exc).__name__}: {exc}"[:400],
                          file=sys.stderr)
                    shutil.rmtree(out / persona.id, ignore_errors=True)
            else:
                failed.append(persona.id)
            bar(n, persona.id)
        if failed:
            print(f"not captured: {', '.join(failed)}", file=sys.stderr)
    finally:
        stack.stop()
        if kafka is not None:
            kafka.stop()
    print(f"saved {len(personas)} sessions in {out}")
    return out


def score(args, catalog: Catalog, sessions: list[Path]) -> None:
    from services.eval.runner import evaluate

    evaluate(catalog, sessions, Path(args.out), k=args.k, seed=args.seed, personas_file=Path(args.personas),
             progress=_progress)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _layout(name: str) -> str:
    if name in ("classic", "boutique") or re.fullmatch(r"theme-[1-9]\d{0,3}", name):
        return name
    raise argparse.ArgumentTypeError(f"{name!r}: expected classic, boutique or theme-<n>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["capture", "score", "run"])
    parser.add_argument("--layout", action="append", type=_layout,
                        help="shop layout(s) to capture/score: classic, boutique or a seeded theme-<n> "
                             "(default: classic)")
    parser.add_argument("--themes", type=int, default=0, metavar="N",
                        help="also capture/score the seeded themes theme-1..theme-N (the themes sample)")
    parser.add_argument("--live", action="store_true", help="capture: run the whole pipeline too (real Kafka)")
    parser.add_argument("--only", nargs="*", help="persona ids (default: the whole library)")
    parser.add_argument("--personas", default=str(Path(__file__).parents[1] / "shoppers" / "personas.toml"),
                        help="persona library (default: services/shoppers/personas.toml)")
    parser.add_argument("--sessions", default=None, help="default: $INTERAREC_VAR_DIR/eval/sessions")
    parser.add_argument("--out", default=None, help="report directory (default: $INTERAREC_VAR_DIR/eval/report)")
    parser.add_argument("--k", type=int, default=8, help="cut-off K of the ranking metrics (the panel shows 8)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random baseline")
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the stack and browser like Ctrl-C does
    layouts = (args.layout or ([] if args.themes else ["classic"])) + [f"theme-{n}" for n in range(1, args.themes + 1)]
    try:
        catalog = Catalog.load(config.catalog_path())
    except (CatalogError, config.ConfigError) as exc:
        print(f"eval: {exc}", file=sys.stderr)
        return 2
    var = config.var_dir()
    args.sessions = args.sessions or str(var / "eval" / "sessions")
    args.out = args.out or str(var / "eval" / "report")
    dirs: list[Path] = []
    for layout in layouts:
        args.layout = layout
        if args.command in ("capture", "run"):
            capture(args, catalog)
        root = Path(args.sessions) / layout
        found = sorted(p for p in root.iterdir() if (p / "session.json").exists()) if root.exists() else []
        if args.only:
            found = [p for p in found if p.name in args.only]
        dirs += found
    if args.command in ("score", "run"):
        if not dirs:
            print(f"eval: no saved sessions under {args.sessions} (run `python -m services.eval capture` first)",
                  file=sys.stderr)
            return 2
        score(args, catalog, dirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
