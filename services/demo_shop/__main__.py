"""`python -m services.demo_shop`: serve the demo shop (settings: services/demo_shop/settings.py)."""

import sys

from services.common.catalog import Catalog
from services.common.serve import serve_http
from services.common.settings import from_env
from services.demo_shop.app import create_app
from services.demo_shop.settings import DemoShopSettings


def build():
    s = from_env(DemoShopSettings)
    return create_app(Catalog.load(s.catalog_path), s.storefront_url, api_key=s.api_key,
                      storefront_backend_url=s.storefront_backend_url or s.storefront_url, layout=s.layout,
                      capture_gateway_url=s.capture_gateway_url or None, session_secret=s.session_secret), \
        s.host, s.port


if __name__ == "__main__":
    sys.exit(serve_http("demo-shop", build))
