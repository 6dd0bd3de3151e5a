"""Entry points shared by every service: configuration errors (including a Kafka broker refusing our TLS or
SASL credentials) become one clear line and exit code 2 instead of a traceback or an endless reconnect loop,
then the HTTP service or Faust worker runs in the foreground."""

from __future__ import annotations

import sys
from collections.abc import Callable

from services.common import kafka_security
from services.common.catalog import CatalogError
from services.common.config import ConfigError, kafka_bootstrap
from services.common.logs import logging_config, setup_logging

STARTUP_ERRORS = (ConfigError, CatalogError)


def serve_http(service: str, build: Callable[[], tuple[object, str, int]], workers: int = 1,
               factory: str | None = None) -> int:
    """build() reads the environment and returns (ASGI app, host, port). With workers > 1, uvicorn runs that
    many processes on the port, each building its app from `factory` ("module:function", no arguments); the
    app built here only checks the configuration before any worker starts."""
    import uvicorn

    setup_logging(service)
    try:
        app, host, port = build()
        kafka_security.preflight(kafka_bootstrap())  # no-op for PLAINTEXT (and services without Kafka settings)
    except STARTUP_ERRORS as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        return 2
    if workers > 1 and factory is not None:
        uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, log_config=None, access_log=False)
    else:
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
    return 0


def serve_worker(service: str, build: Callable[[], object]) -> int:
    """Build the worker's Faust app (`build()` reads the settings, loads the catalog, registers the agents),
    then run it in the foreground."""
    from faust.worker import Worker

    try:
        app = build()
        kafka_security.preflight(kafka_bootstrap())
    except STARTUP_ERRORS as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        return 2
    worker = Worker(app, loglevel="INFO", quiet=True, redirect_stdouts=False,
                    logging_config=logging_config(service))
    worker.spinner = None  # a terminal spinner only garbles log files
    worker.execute_from_commandline()
    return 0
