"""Entry points shared by every service: configuration errors (including a Kafka broker refusing our TLS or
SASL credentials) become one clear line and exit code 2 instead of a traceback or an endless reconnect loop,
then the HTTP service or Faust worker runs in the foreground."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from services.common import kafka_security
from services.common.catalog import CatalogError
from services.common.config import ConfigError, kafka_bootstrap
from services.common.logs import logging_config, setup_logging
from services.common.topics import check_partitions

STARTUP_ERRORS = (ConfigError, CatalogError)


@dataclass(frozen=True)
class Serving:
    """How uvicorn serves an app. The event loop and HTTP parser are named, never uvicorn's "auto": with uvloop
    and httptools installed (the gateway's choice), "auto" would switch every service to them unasked.
    workers > 1: that many processes on the port, each building its app from `factory` ("module:function")."""

    workers: int = 1
    factory: str | None = None
    loop: str = "asyncio"
    http: str = "h11"
    # writes session-keyed topics: refuse to start when they have another partition count than this process
    # computes sessions' partitions with (topics.check_partitions), as the workers do
    check_partitions: bool = False


def serve_http(service: str, build: Callable[[], tuple]) -> int:
    """build() reads the environment and returns (ASGI app, host, port) or (app, host, port, Serving); a
    configuration error there, as in Kafka's preflight, is one line and exit code 2. With several workers the
    app built here only checks the configuration before they start."""
    import uvicorn

    setup_logging(service)
    try:
        app, host, port, *rest = build()
        serving: Serving = rest[0] if rest else Serving()
        kafka_security.preflight(kafka_bootstrap())  # no-op for PLAINTEXT (and services without Kafka settings)
        if serving.check_partitions:
            check_partitions(kafka_bootstrap())
    except STARTUP_ERRORS as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        return 2
    options = {"host": host, "port": port, "log_config": None, "access_log": False, "loop": serving.loop,
               "http": serving.http}
    if serving.workers > 1 and serving.factory is not None:
        uvicorn.run(serving.factory, factory=True, workers=serving.workers, **options)
    else:
        uvicorn.run(app, **options)
    return 0


def serve_worker(service: str, build: Callable[[], object]) -> int:
    """Build the worker's Faust app (`build()` reads the settings, loads the catalog, registers the agents),
    then run it in the foreground."""
    from faust.worker import Worker

    try:
        app = build()
        kafka_security.preflight(kafka_bootstrap())
        check_partitions(kafka_bootstrap())
    except STARTUP_ERRORS as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        return 2
    worker = Worker(app, loglevel="INFO", quiet=True, redirect_stdouts=False,
                    logging_config=logging_config(service))
    worker.spinner = None  # a terminal spinner only garbles log files
    worker.execute_from_commandline()
    return 0
