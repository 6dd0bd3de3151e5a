"""`python -m services.shoppers --scenario brand ...`: one scripted shopper streaming frames to the gateway."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from pathlib import Path

from services.common import config
from services.common.catalog import Catalog, CatalogError
from services.shoppers.scenarios import KINDS
from services.shoppers.settings import ShopperSettings
from services.shoppers.shopper import run_shopper


def _parser() -> argparse.ArgumentParser:
    s = ShopperSettings.from_env()
    parser = argparse.ArgumentParser(prog="python -m services.shoppers", description=__doc__)
    parser.add_argument("--shop-url", default=s.shop_url)
    parser.add_argument("--gateway-url", default=s.gateway_url)
    parser.add_argument("--api-key", default=s.api_key)
    parser.add_argument("--session-id", default=None, help="default: a new random id")
    parser.add_argument("--scenario", choices=KINDS, default="brand")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--linger", type=float, default=0.0, help="seconds to keep capturing after the script")
    parser.add_argument("--catalog", type=Path, default=None, help="default: INTERAREC_CATALOG_PATH")
    parser.add_argument("--headed", action="store_true", help="show the browser window")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.api_key:
        print("capture: no API key (--api-key or INTERAREC_API_KEY)", file=sys.stderr)
        return 2
    if not 0 < args.fps <= 10:
        print("capture: --fps must be in (0, 10]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        catalog = Catalog.load(args.catalog or config.catalog_path())
    except (CatalogError, config.ConfigError) as exc:
        print(f"capture: {exc}", file=sys.stderr)
        return 2
    session_id = args.session_id or f"s-{uuid.uuid4().hex[:12]}"
    result = asyncio.run(run_shopper(
        args.shop_url, args.gateway_url, args.api_key, session_id, args.scenario, catalog, seed=args.seed,
        fps=args.fps, headless=not args.headed, linger_s=args.linger, progress=lambda line: print(line, flush=True),
    ))
    matching = sum(result.preference.matches(catalog.by_id[pid]) for pid in result.opened_product_ids)
    print(f"done in {result.elapsed_s:.1f} s: opened {len(result.opened_product_ids)} products "
          f"({matching} matching {result.preference.describe()})")
    return 0 if result.frames_sent else 1


if __name__ == "__main__":
    sys.exit(main())
