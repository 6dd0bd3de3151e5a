"""`python -m services.gateway`: serve the gateway (configuration from INTERAREC_* environment variables),
in INTERAREC_GATEWAY_WORKERS processes sharing the port."""

import sys

from fastapi import FastAPI

from services.common.serve import serve_http
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings


def app_from_env() -> FastAPI:
    """One worker process's app (uvicorn's factory)."""
    return create_app(GatewaySettings.from_env())


def build():
    settings = GatewaySettings.from_env()
    return create_app(settings), settings.host, settings.port


if __name__ == "__main__":
    sys.exit(serve_http("gateway", build, workers=GatewaySettings.from_env().workers,
                        factory="services.gateway.__main__:app_from_env"))
