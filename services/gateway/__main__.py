"""`python -m services.gateway`: serve the gateway (configuration from INTERAREC_* environment variables),
in INTERAREC_GATEWAY_WORKERS processes sharing the port, on uvloop and httptools unless INTERAREC_GATEWAY_LOOP /
INTERAREC_GATEWAY_HTTP say otherwise (chosen here by name: uvicorn's loop factory is this server's own, nothing
process-wide, and other services keep asyncio and h11). Like the workers, it refuses to start (exit 2) when the
session-keyed topics have another partition count than INTERAREC_KAFKA_PARTITIONS."""

import sys

from fastapi import FastAPI

from services.common.serve import Serving, serve_http
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings


def app_from_env() -> FastAPI:
    """One worker process's app (uvicorn's factory)."""
    return create_app(GatewaySettings.from_env())


def build():
    settings = GatewaySettings.from_env()
    return create_app(settings), settings.host, settings.port, Serving(
        workers=settings.workers, factory="services.gateway.__main__:app_from_env", loop=settings.loop,
        http=settings.http, check_partitions=True)


if __name__ == "__main__":
    sys.exit(serve_http("gateway", build))
