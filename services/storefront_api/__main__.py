"""`python -m services.storefront_api`: serve the storefront API (configuration from INTERAREC_* variables)."""

import sys

from services.common.serve import serve_http
from services.storefront_api.app import StorefrontSettings, create_app


def build():
    settings = StorefrontSettings.from_env()
    return create_app(settings), settings.host, settings.port


if __name__ == "__main__":
    sys.exit(serve_http("storefront_api", build))
