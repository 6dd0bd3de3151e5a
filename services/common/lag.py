"""Consumer lag as a metric: every worker exports, for each input partition it is assigned, how many
messages wait behind its consumer group's committed offset (`interarec_<service>_consumer_lag_messages`).
KEDA scales the workers on it and the dashboards and alerts read it.

The offsets come from the broker (the group's committed offsets, the partitions' end offsets), through
kafka-python in a thread, not from Faust internals: it is what any outside tool would see."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from prometheus_client import Gauge

from services.common import kafka_security

log = logging.getLogger("interarec.lag")


class Partition(NamedTuple):
    topic: str
    partition: int


def partition_lag(end: Mapping[Partition, int], committed: Mapping[Partition, int | None],
                  beginning: Mapping[Partition, int]) -> dict[Partition, int]:
    """Messages not yet committed per partition. A partition the group never committed is read from the
    start (Faust's auto.offset.reset is earliest), so all its retained messages count."""
    lag = {}
    for tp, end_offset in end.items():
        base = committed.get(tp)
        if base is None:
            base = beginning.get(tp, 0)
        lag[tp] = max(0, end_offset - base)
    return lag


def input_partitions(assigned: Iterable[tuple[str, int]], app_id: str) -> set[Partition]:
    """The assigned partitions of the worker's input topics: Faust also assigns its own table changelogs
    and leader topic (named `<app id>-...`), which the group never commits offsets for."""
    return {Partition(t, p) for t, p in assigned if not t.startswith(f"{app_id}-")}


class LagReader:
    """Reads offsets from the broker (blocking: call from a thread)."""

    def __init__(self, bootstrap: str, group_id: str):
        self.bootstrap = bootstrap
        self.group_id = group_id
        self._admin = None
        self._consumer = None

    def read(self, partitions: set[Partition]) -> dict[Partition, int]:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.admin import KafkaAdminClient

        if not partitions:
            return {}
        if self._admin is None:
            auth = kafka_security.kafka_python_kwargs()
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.group_id}-lag",
                                           request_timeout_ms=10_000, **auth)
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                           client_id=f"{self.group_id}-lag", request_timeout_ms=10_000, **auth)
        tps = [TopicPartition(p.topic, p.partition) for p in partitions]
        offsets = self._committed(tps)
        committed = {Partition(tp.topic, tp.partition): (om.offset if om.offset >= 0 else None)
                     for tp, om in offsets.items()}
        end = self._consumer.end_offsets(tps)
        beginning = self._consumer.beginning_offsets(tps)
        return partition_lag({Partition(*tp): off for tp, off in end.items()}, committed,
                             {Partition(*tp): off for tp, off in beginning.items()})

    def _committed(self, tps: list, attempts: int = 5) -> dict:
        """The group's committed offsets; retries what the broker calls retriable (a coordinator that is
        still loading or moving, the offsets topic being created on a fresh cluster)."""
        from kafka.errors import KafkaError

        for attempt in range(attempts):
            try:
                return self._admin.list_group_offsets({self.group_id: tps}).get(self.group_id, {})
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == attempts - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
        return {}

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                client.close()
        self._admin = self._consumer = None


_GAUGES: dict[str, Gauge] = {}


def lag_gauge(service: str) -> Gauge:
    if service not in _GAUGES:
        _GAUGES[service] = Gauge(f"interarec_{service}_consumer_lag_messages",
                                 "Messages in an assigned input partition behind the group's committed offset",
                                 ["topic", "partition"])
    return _GAUGES[service]


class LagPublisher:
    """Sets the gauge to exactly the partitions of the latest reading: ones moved to another worker disappear."""

    def __init__(self, gauge: Gauge):
        self.gauge = gauge
        self.published: set[tuple[str, str]] = set()

    def publish(self, lag: Mapping[Partition, int]) -> None:
        wanted = {(tp.topic, str(tp.partition)): value for tp, value in lag.items()}
        for labels in self.published - set(wanted):
            self.gauge.remove(*labels)
        for (topic, partition), value in wanted.items():
            self.gauge.labels(topic=topic, partition=partition).set(value)
        self.published = set(wanted)


def export_consumer_lag(app, service: str, interval: int, bootstrap: str) -> None:
    """Register a Faust timer that refreshes the lag gauge every `interval` seconds."""
    publisher = LagPublisher(lag_gauge(service))
    reader = LagReader(bootstrap, app.conf.id)

    @app.timer(interval, name=f"{service}.consumer_lag")
    async def refresh_consumer_lag() -> None:
        partitions = input_partitions(app.consumer.assignment(), app.conf.id)
        try:
            lag = await asyncio.get_running_loop().run_in_executor(None, reader.read, partitions)
        except Exception as exc:  # a metrics refresh must never take the worker down
            log.warning("consumer lag not refreshed: %s", exc)
            reader.close()
            return
        publisher.publish(lag)

    @app.on_before_shutdown.connect
    async def close_lag_reader(sender, **kwargs) -> None:
        reader.close()


def topic_lag(reader: LagReader, topic: str, partitions: int) -> int:
    """Messages of `topic` the reader's group has not committed yet, over all its partitions (blocking)."""
    return sum(reader.read({Partition(topic, p) for p in range(partitions)}).values())
