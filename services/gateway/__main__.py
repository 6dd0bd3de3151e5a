"""`python -m services.gateway`: serve the gateway (configuration from INTERAREC_* environment variables)."""

import sys

from services.common.serve import serve_http
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings


def build():
    settings = GatewaySettings.from_env()
    return create_app(settings), settings.host, settings.port


if __name__ == "__main__":
    sys.exit(serve_http("gateway", build))
