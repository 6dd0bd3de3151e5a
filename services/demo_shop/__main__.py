"""Run the demo shop: `python -m services.demo_shop` (INTERAREC_SHOP_HOST/PORT, INTERAREC_STOREFRONT_PUBLIC_URL,
INTERAREC_CATALOG_PATH)."""

from __future__ import annotations

import sys

import uvicorn

from services.common import config
from services.common.catalog import Catalog, CatalogError
from services.common.logs import setup_logging
from services.demo_shop.app import create_app


def main() -> int:
    log = setup_logging("demo-shop")
    try:
        host = config.env_str("INTERAREC_SHOP_HOST", "127.0.0.1")
        port = config.env_int("INTERAREC_SHOP_PORT", 8700, minimum=1, maximum=65535)
        storefront = config.env_str("INTERAREC_STOREFRONT_PUBLIC_URL", "http://127.0.0.1:8600")
        catalog = Catalog.load(config.catalog_path())
    except (config.ConfigError, CatalogError) as exc:
        print(f"demo-shop: {exc}", file=sys.stderr)
        return 2
    log.info("demo shop on http://%s:%d (%d products, storefront %s)", host, port, len(catalog), storefront)
    uvicorn.run(create_app(catalog, storefront), host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
