"""Shared wiring for the Faust stream workers: app settings, health/metrics pages, and a consume loop
that turns any failure into a dead letter instead of a crashed consumer."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import faust
from faust.types import EventT

from services.common import config, metrics
from services.common.deadletters import dead_letter
from services.common.lag import export_consumer_lag
from services.common.topics import DEAD_LETTERS, FRAME_MAX_MESSAGE_BYTES, FRAMES

Handler = Callable[[EventT], Awaitable[None]]


def make_app(service: str, default_web_port: int) -> faust.App:
    """A Faust app with the settings every InteraRec worker shares (see DESIGN.md, Known pitfalls)."""
    bootstrap = config.kafka_bootstrap()
    datadir = config.var_dir() / "faust" / service  # Faust keeps local state here, not in the cwd
    datadir.parent.mkdir(parents=True, exist_ok=True)
    settings = dict(
        broker=";".join(f"kafka://{host}" for host in bootstrap.split(",")),
        store="memory://",  # state is rebuilt from the changelog topics on start
        # At-least-once plus idempotent consumers: exactly-once has open duplicate/fencing reports.
        processing_guarantee="at_least_once",
        # Table changelogs must have as many partitions as the topics they are keyed alongside.
        topic_partitions=FRAMES.partitions,
        topic_replication_factor=config.env_int("INTERAREC_KAFKA_REPLICATION_FACTOR", 1, minimum=1),
        table_standby_replicas=0,
        # Slow stages (OCR, solving) must not hold thousands of prefetched events past the poll interval.
        stream_buffer_maxsize=32,
        broker_max_poll_records=16,
        consumer_max_fetch_size=2 * FRAME_MAX_MESSAGE_BYTES,
        producer_max_request_size=2 * FRAME_MAX_MESSAGE_BYTES,
        web_host=config.env_str("INTERAREC_WEB_HOST", "127.0.0.1"),
        web_bind=config.env_str("INTERAREC_WEB_BIND", "127.0.0.1"),
        web_port=config.env_int(f"INTERAREC_{service.upper()}_PORT", default_web_port, minimum=1, maximum=65535),
        autodiscover=False,
        datadir=str(datadir),
    )
    app = faust.App(f"interarec-{service}", **settings)
    _add_pages(app)
    export_consumer_lag(app, service)  # KEDA, the dashboards and the lag alert read it
    return app


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic of protobuf bytes: we decode ourselves, so a poison message reaches our dead-letter path
    instead of failing inside Faust's deserializer."""
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


def _add_pages(app: faust.App) -> None:
    @app.page("/healthz")
    async def healthz(self, request):
        return self.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(self, request):
        # Ready once partitions are assigned and table state is recovered from the changelogs.
        recovered = app.tables.recovery.completed.is_set()
        if recovered and not app.rebalancing:
            return self.json({"status": "ready"})
        return self.json({"status": "recovering" if not recovered else "rebalancing"}, status=503)

    @app.page("/metrics")
    async def prometheus_metrics(self, request):
        body, content_type = metrics.exposition()
        return self.bytes(body, content_type=content_type.split(";")[0])


def is_stale(last_window: faust.Table, message, log: logging.Logger) -> bool:
    """At-least-once delivery: a window at or below the last one handled for its session is a redelivery or
    arrived out of date; handling it again would repeat or roll back what the storefront shows."""
    if message.window_seq <= last_window[message.session_id]:
        log.info("skipping duplicate or stale %s", type(message).__name__,
                 extra={"session_id": message.session_id, "window_seq": message.window_seq})
        return True
    return False


class Consumer:
    """Runs a handler per event; failures are logged, counted and sent whole to the dead-letter topic."""

    def __init__(self, app: faust.App, service: str):
        self.service = service
        self.log = logging.getLogger(f"interarec.{service}")
        self.dead_letters = raw_topic(app, DEAD_LETTERS.name)
        self.outcomes = metrics.messages_total(service)
        self.seconds = metrics.processing_seconds(service)
        self.dlq_total = metrics.dead_letters_total(service)

    async def run(self, stream, handler: Handler) -> None:
        async for event in stream.events():
            message = event.message
            started = time.perf_counter()
            try:
                await handler(event)
                self.outcomes.labels(outcome="ok").inc()
            except Exception as exc:  # one poison message must never stop the consumer
                session = (event.key or b"").decode("utf-8", "replace")
                self.log.exception("sending message to dead letters: %s", exc,
                                   extra={"session_id": session, "topic": message.topic,
                                          "partition": message.partition, "offset": message.offset})
                record = dead_letter(source_topic=message.topic, partition=message.partition,
                                     offset=message.offset, key=event.key, value=event.value,
                                     stage=self.service, error=exc)
                await self.dead_letters.send(key=event.key or b"", value=record.SerializeToString())
                self.outcomes.labels(outcome="dead_letter").inc()
                self.dlq_total.labels(error=type(exc).__name__).inc()
            finally:
                self.seconds.observe(time.perf_counter() - started)
