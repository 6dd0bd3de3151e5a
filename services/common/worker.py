"""Shared wiring for the Faust stream workers: app settings, health/metrics pages, session-keyed tables, and a
consume loop that retries transient failures and dead-letters only what cannot succeed.

How end-to-end at-least-once is obtained with Faust (checked in faust-streaming's source, 0.15.x):
- `await topic.send(...)` only queues the record (Topic.publish_message -> aiokafka send) and returns the
  delivery future; awaiting that future waits for the broker's acknowledgement (acks=all) or raises.
  `send_and_wait` below awaits it, so a handler returns only once every output it caused is acknowledged.
- With processing_guarantee=at_least_once an event's offset becomes committable only when the agent takes
  the next event, i.e. after our handler returned (or its failure was dead-lettered and that was acked).
  Faust flushes its producer (table changelogs) before it commits (Consumer._commit_offsets).
- A handler that keeps failing transiently is retried here, in place: the next event is not taken, so the
  offset is not committed. Killing the worker meanwhile means the input is redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import faust
from faust.types import EventT

from services.common import config, kafka_security, metrics
from services.common.deadletters import REPLAY_COUNT_HEADER, dead_letter, header
from services.common.keys import session_key
from services.common.lag import export_consumer_lag
from services.common.messages import now_ms
from services.common.retry import RetryPolicy
from services.common.settings import from_env, nested, setting
from services.common.topics import FRAME_MAX_MESSAGE_BYTES, FRAMES, dead_letter_topic, session_partition

Handler = Callable[[EventT], Awaitable[None]]
log = logging.getLogger("interarec.worker")

STATE_STORES = ("rocksdb", "memory")


@dataclass(frozen=True)
class WorkerSettings:
    """What every stream worker reads from its environment, declared once (services/common/settings.py)."""

    kafka_bootstrap: str = setting("INTERAREC_KAFKA_BOOTSTRAP_SERVERS", config.kafka_bootstrap, "broker list",
                                   default_doc="`$KAFKA_BOOTSTRAP_SERVERS` or `localhost:9092`")
    var_dir: Path = setting("INTERAREC_VAR_DIR", config.var_dir,
                            "provisioned Kafka, generated catalog, run state and logs", default_doc="`var/`")
    catalog_path: Path = setting("INTERAREC_CATALOG_PATH", config.catalog_path, "the catalog (see below)",
                                 default_doc="`var/catalog/catalog.parquet`")
    state_store: str = setting("INTERAREC_STATE_STORE", "rocksdb",
                               "Faust table store: persistent, or rebuilt from the changelogs on every start",
                               choices=STATE_STORES)
    session_ttl_s: int = setting("INTERAREC_SESSION_TTL_S", 1800, "sessions idle longer are expired from every table",
                                 minimum=1, maximum=30 * 24 * 3600)
    producer_timeout_s: float = setting("INTERAREC_KAFKA_PRODUCER_TIMEOUT_S", 15.0,
                                        "a worker's send fails (and is retried) after this long without ack",
                                        minimum=1.0, maximum=600.0)
    # Kafka brokers reject sessions shorter than group.min.session.timeout.ms (6 s by default).
    session_timeout_s: float = setting("INTERAREC_KAFKA_SESSION_TIMEOUT_S", 10.0,
                                       "consumer group liveness: failover time", minimum=6.0, maximum=300.0)
    heartbeat_s: float = setting("INTERAREC_KAFKA_HEARTBEAT_S", 3.0, "consumer group heartbeat interval",
                                 minimum=0.5, maximum=100.0)
    replication_factor: int = setting("INTERAREC_KAFKA_REPLICATION_FACTOR", 1,
                                      "replication of the topics and changelogs a worker creates",
                                      minimum=1, maximum=32)
    web_host: str = setting("INTERAREC_WEB_HOST", "127.0.0.1", "host name a worker's web page advertises")
    web_bind: str = setting("INTERAREC_WEB_BIND", "127.0.0.1", "address a worker's /metrics, /healthz and /readyz bind")
    lag_interval_s: int = setting("INTERAREC_CONSUMER_LAG_INTERVAL_S", 10,
                                  "how often each worker refreshes its consumer-lag metric", minimum=1, maximum=3600)
    retry: RetryPolicy = nested(RetryPolicy)


def session_ttl_ms() -> int:
    """Sessions idle longer than this are expired from every table (INTERAREC_SESSION_TTL_S, default 30 min)."""
    return 1000 * from_env(WorkerSettings).session_ttl_s


def producer_timeout_s() -> float:
    return from_env(WorkerSettings).producer_timeout_s


def make_app(service: str, w: WorkerSettings, web_port: int, stream_buffer: int = 32) -> faust.App:
    """A Faust app with the settings every InteraRec worker shares (see DESIGN.md, Known pitfalls).
    `stream_buffer`: records each input stream holds (the summarizer's latest wins needs a whole batch)."""
    datadir = w.var_dir / "faust" / service  # Faust keeps local state here, not in the cwd
    datadir.parent.mkdir(parents=True, exist_ok=True)
    if w.state_store == "rocksdb":
        try:
            import rocksdict  # noqa: F401 -- Faust's RocksDB store uses these bindings
        except ImportError:
            raise config.ConfigError("INTERAREC_STATE_STORE=rocksdb needs the rocksdict package (make venv installs "
                                     "it), or set INTERAREC_STATE_STORE=memory") from None
    app_settings = dict(
        broker=";".join(f"kafka://{host}" for host in w.kafka_bootstrap.split(",")),
        # rocksdb: table state persists in datadir (with the changelog offset it reflects), so a restart reads
        # only the changelog's tail instead of replaying every session ever seen. memory: rebuilt from the
        # changelogs on every start.
        store=f"{w.state_store}://",
        # At-least-once plus idempotent consumers: exactly-once has open duplicate/fencing reports.
        processing_guarantee="at_least_once",
        # Table changelogs must have as many partitions as the topics they are keyed alongside.
        topic_partitions=FRAMES.partitions,
        topic_replication_factor=w.replication_factor,
        table_standby_replicas=0,
        # Slow stages (OCR, solving) must not hold thousands of prefetched events past the poll interval.
        stream_buffer_maxsize=stream_buffer,
        broker_max_poll_records=16,
        consumer_max_fetch_size=2 * FRAME_MAX_MESSAGE_BYTES,
        producer_max_request_size=2 * FRAME_MAX_MESSAGE_BYTES,
        # Explicit and short: Faust's default producer timeout is 20 minutes, during which one stuck send
        # holds its input. A send that times out raises, is retried by Consumer, and blocks the commit.
        producer_acks=-1,
        producer_request_timeout=w.producer_timeout_s,
        # A SIGKILLed worker's partitions move to its replacement within about one session timeout
        # (Faust's default is 60 s). The request timeout must not be below the session timeout.
        broker_session_timeout=w.session_timeout_s,
        broker_heartbeat_interval=w.heartbeat_s,
        broker_request_timeout=max(30.0, w.session_timeout_s + 5),
        web_host=w.web_host,
        web_bind=w.web_bind,
        web_port=web_port,
        autodiscover=False,
        datadir=str(datadir),
        **kafka_security.faust_kwargs(),  # TLS + SCRAM for every aiokafka client Faust builds
    )
    app = faust.App(f"interarec-{service}", **app_settings)
    _add_pages(app)
    export_consumer_lag(app, service, w.lag_interval_s, w.kafka_bootstrap)  # KEDA, dashboards, the lag alert
    return app


def raw_topic(app: faust.App, name: str) -> faust.TopicT:
    """A topic of protobuf bytes: we decode ourselves, so a poison message reaches our dead-letter path
    instead of failing inside Faust's deserializer."""
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


class SessionTable(faust.Table):
    """A table keyed by keys.session_key whose changelog partition is Kafka's default partitioner (murmur2)
    on that key, computed here. Every session-keyed topic is partitioned the same way, so a session's state
    and input share a partition number; and timers can write outside any stream event without Faust's
    use_partitioner, which asks the producer's metadata and fails (TypeError) until that is loaded."""

    def partition_for_key(self, key: str) -> int:
        return session_partition(key, FRAMES.partitions)


def session_table(app: faust.App, name: str, **kwargs) -> SessionTable:
    return app.tables.add(SessionTable(app, name=name, key_type=str, partitions=FRAMES.partitions, **kwargs))


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """Partitions of `topic` this worker currently owns (is the active consumer of)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def owns(app: faust.App, topic: str, key: str) -> bool:
    """After a rebalance the previous owner must not write for sessions it no longer owns (its memory store
    may still hold them): timers check this before acting on a session."""
    return session_partition(key, FRAMES.partitions) in owned_partitions(app, topic)


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


async def send_and_wait(sends: Iterable[tuple[faust.TopicT, bytes, bytes]], timeout_s: float | None = None) -> list:
    """Queue every (topic, key, value), then wait until the broker acknowledged all of them (acks=all).
    Raises the first delivery error, or TimeoutError: the caller must not count its input as done."""
    futures = [await topic.send(key=key, value=value) for topic, key, value in sends]
    if not futures:
        return []
    # asyncio.wait does not cancel the delivery futures (the producer owns them) when it times out.
    done, pending = await asyncio.wait(futures, timeout=timeout_s or producer_timeout_s() + 5)
    if pending:
        raise TimeoutError(f"{len(pending)} of {len(futures)} records not acknowledged by Kafka in time")
    return [f.result() for f in futures]


class LastWindows:
    """Highest window_seq handled per session (tenant/session key) plus when it was seen, for idempotent
    stages: a duplicate or stale (session, window_seq) stops here. Values are {"seq": int, "seen_ms": int}."""

    def __init__(self, app: faust.App, name: str, source_topic: str):
        self.app = app
        self.source_topic = source_topic
        self.table = session_table(app, name, default=dict)

    @classmethod
    def over(cls, table: MutableMapping, source_topic: str) -> LastWindows:
        """The same bookkeeping over a plain mapping (the in-memory stage driver of the unit tests)."""
        self = cls.__new__(cls)
        self.app, self.source_topic, self.table = None, source_topic, table
        return self

    @staticmethod
    def key(message) -> str:
        return session_key(message.tenant, message.session_id)

    def last(self, key: str) -> int:
        value = self.table.get(key)
        if isinstance(value, int):  # written before values carried their time
            return value
        return int((value or {}).get("seq", 0))

    def is_stale(self, message, log: logging.Logger) -> bool:
        """At-least-once delivery: a window at or below the last one handled for its session is a redelivery
        or arrived out of date; handling it again would repeat or roll back what the storefront shows."""
        if message.window_seq <= self.last(self.key(message)):
            log.info("skipping duplicate or stale %s", type(message).__name__,
                     extra={"session_id": self.key(message), "window_seq": message.window_seq})
            return True
        return False

    def record(self, message) -> None:
        self.table[self.key(message)] = {"seq": int(message.window_seq), "seen_ms": now_ms()}

    def expire(self, now: int, ttl_ms: int) -> int:
        """Delete sessions idle longer than ttl_ms among those this worker owns (a tombstone in the changelog).
        The scan and deletes never await, so the agent cannot interleave; an agent write for a session that
        had just expired simply re-creates it with its new window."""
        owned = owned_partitions(self.app, self.source_topic)
        expired = [key for key, value in list(self.table.items())
                   if session_partition(key, FRAMES.partitions) in owned and is_expired(value, now, ttl_ms)]
        for key in expired:
            del self.table[key]
        return len(expired)


def is_expired(value, now: int, ttl_ms: int) -> bool:
    seen = value.get("seen_ms", 0) if isinstance(value, Mapping) else 0
    return now - seen >= ttl_ms


def add_expiry_timer(app: faust.App, tables: list[LastWindows], service: str, ttl_ms: int | None = None) -> None:
    ttl = ttl_ms if ttl_ms is not None else session_ttl_ms()
    expired_total = metrics.sessions_expired_total(service)

    @app.timer(interval=max(1.0, min(60.0, ttl / 10_000)))
    async def expire_sessions() -> None:
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return
        now = now_ms()
        for table in tables:
            expired_total.inc(table.expire(now, ttl))


class Consumer:
    """Runs a handler per event. Transient failures are retried with exponential backoff and jitter (the event
    is not acknowledged meanwhile); permanent failures and exhausted retries go to the dead letters with stage,
    reason, source topic/partition/offset and attempt count. The next event is taken only once this one is
    done or its dead letter is acknowledged, so its offset is never committed before."""

    def __init__(self, app: faust.App, service: str, policy: RetryPolicy | None = None):
        self.app = app
        self.service = service
        self.policy = policy or RetryPolicy.from_env()
        self.log = logging.getLogger(f"interarec.{service}")
        self._dead_letter_topics: dict[str, faust.TopicT] = {}
        self.outcomes = metrics.messages_total(service)
        self.seconds = metrics.processing_seconds(service)
        self.lag_seconds = metrics.input_lag_seconds(service)
        self.dlq_total = metrics.dead_letters_total(service)
        self.retries = metrics.retries_total(service)

    def _dlq(self, source_topic: str) -> faust.TopicT:
        name = dead_letter_topic(source_topic).name
        if name not in self._dead_letter_topics:
            self._dead_letter_topics[name] = raw_topic(self.app, name)
        return self._dead_letter_topics[name]

    async def run(self, stream, handler: Handler) -> None:
        async for event in stream.events():
            await self.process(event, handler)

    async def process(self, event: EventT, handler: Handler) -> str:
        message = event.message
        ctx = {"session_id": (event.key or b"").decode("utf-8", "replace"), "topic": message.topic,
               "partition": message.partition, "offset": message.offset}
        appended_s = getattr(message, "timestamp", None)  # broker/producer time, seconds
        if appended_s:
            self.lag_seconds.observe(max(0.0, time.time() - appended_s))
        started = time.perf_counter()
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    await handler(event)
                    self.outcomes.labels(outcome="ok").inc()
                    return "ok"
                except Exception as exc:  # one poison message must never stop the consumer
                    if self.policy.should_retry(exc, attempt):
                        delay = self.policy.delay_s(attempt)
                        self.retries.labels(error=type(exc).__name__).inc()
                        self.log.warning("attempt %d failed (%r); retrying in %.2fs", attempt, exc, delay, extra=ctx)
                        await asyncio.sleep(delay)
                        continue
                    await self._dead_letter(event, exc, attempt, ctx)
                    return "dead_letter"
        finally:
            self.seconds.observe(time.perf_counter() - started)

    async def _dead_letter(self, event: EventT, exc: Exception, attempts: int, ctx: dict) -> None:
        message = event.message
        reason = self.policy.reason(exc)
        self.log.error("sending message to dead letters (%s after %d attempts): %r", reason, attempts, exc,
                       extra=ctx, exc_info=exc)
        record = dead_letter(source_topic=message.topic, partition=message.partition, offset=message.offset,
                             key=event.key, value=event.value, stage=self.service, error=exc, reason=reason,
                             attempts=attempts, replays=_replays(event.headers))
        topic = self._dlq(message.topic)
        tries = 0
        while True:  # never commit an input that is neither processed nor safely dead-lettered
            tries += 1
            try:
                await send_and_wait([(topic, event.key or b"", record.SerializeToString())])
                break
            except Exception as send_exc:
                delay = self.policy.delay_s(tries)
                self.log.error("dead letter not acknowledged (%r); retrying in %.2fs", send_exc, delay, extra=ctx)
                await asyncio.sleep(delay)
        self.outcomes.labels(outcome="dead_letter").inc()
        self.dlq_total.labels(error=type(exc).__name__).inc()


def _replays(headers) -> int:
    raw = header(headers, REPLAY_COUNT_HEADER)
    try:
        return int(raw) if raw else 0
    except ValueError:
        return 0

