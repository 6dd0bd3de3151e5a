"""`python -m services.demo_shop`: serve the demo shop (INTERAREC_SHOP_HOST/PORT, INTERAREC_STOREFRONT_PUBLIC_URL,
INTERAREC_CATALOG_PATH, INTERAREC_SHOP_LAYOUT=classic|boutique)."""

import sys

from services.common import config
from services.common.catalog import Catalog
from services.common.serve import serve_http
from services.demo_shop.app import LAYOUTS, create_app


def build():
    host = config.env_str("INTERAREC_SHOP_HOST", "127.0.0.1")
    port = config.env_int("INTERAREC_SHOP_PORT", 8700, minimum=1, maximum=65535)
    storefront = config.env_str("INTERAREC_STOREFRONT_PUBLIC_URL", "http://127.0.0.1:8600")
    layout = config.env_choice("INTERAREC_SHOP_LAYOUT", "classic", LAYOUTS)
    return create_app(Catalog.load(config.catalog_path()), storefront, layout), host, port


if __name__ == "__main__":
    sys.exit(serve_http("demo-shop", build))
