"""`python -m services.demo_shop`: serve the demo shop (INTERAREC_SHOP_HOST/PORT, INTERAREC_STOREFRONT_PUBLIC_URL,
INTERAREC_STOREFRONT_BACKEND_URL, INTERAREC_SHOP_API_KEY, INTERAREC_CATALOG_PATH,
INTERAREC_SHOP_LAYOUT=classic|boutique|theme-<n>, INTERAREC_SHOP_CAPTURE_GATEWAY_URL: where browsers reach the
gateway; set, every page carries the capture script; INTERAREC_SHOP_SESSION_SECRET: signs visitors' session
cookies; 32+ characters, the same on every replica)."""

import sys

from services.common import config
from services.common.catalog import Catalog
from services.common.serve import serve_http
from services.common.tenants import DEMO_KEY, demo_mode
from services.demo_shop.app import LAYOUTS, create_app
from services.demo_shop.session import MIN_SECRET_BYTES
from services.demo_shop.themes import theme_number


def build():
    host = config.env_str("INTERAREC_SHOP_HOST", "127.0.0.1")
    port = config.env_int("INTERAREC_SHOP_PORT", 8700, minimum=1, maximum=65535)
    storefront = config.env_str("INTERAREC_STOREFRONT_PUBLIC_URL", "http://127.0.0.1:8600")
    backend = config.env_str("INTERAREC_STOREFRONT_BACKEND_URL", storefront)
    # The shop's tenant key for the storefront API (server side only); the demo key in demo mode.
    api_key = config.env_str("INTERAREC_SHOP_API_KEY", DEMO_KEY if demo_mode() else "") or None
    layout = config.env_str("INTERAREC_SHOP_LAYOUT", "classic")
    if layout not in LAYOUTS and theme_number(layout) is None:
        raise config.ConfigError(f"INTERAREC_SHOP_LAYOUT={layout!r} must be one of {', '.join(LAYOUTS)} or theme-<n>")
    gateway = config.env_str("INTERAREC_SHOP_CAPTURE_GATEWAY_URL", "") or None
    secret = config.env_str("INTERAREC_SHOP_SESSION_SECRET", "")
    if secret and len(secret) < MIN_SECRET_BYTES:
        raise config.ConfigError(f"INTERAREC_SHOP_SESSION_SECRET must be at least {MIN_SECRET_BYTES} characters")
    return create_app(Catalog.load(config.catalog_path()), storefront, api_key=api_key,
                      storefront_backend_url=backend, layout=layout, capture_gateway_url=gateway,
                      session_secret=secret.encode() or None), host, port


if __name__ == "__main__":
    sys.exit(serve_http("demo-shop", build))
