"""A librdkafka producer (confluent-kafka) usable from asyncio: `await send(...)` resolves only once the broker
acknowledged the record (acks=all, idempotent). The gateway's producer (INTERAREC_GATEWAY_PRODUCER).

Why librdkafka: kafka-python builds record batches and runs its I/O thread in Python under the GIL, about
0.4 ms of CPU per 180 KB frame (28 % of the gateway's samples); librdkafka does both in C on its own threads.

produce() never blocks the event loop: it copies the record into librdkafka's bounded queue (a topic whose
partitions are not known yet waits there while metadata is fetched in the background), or raises BufferError
when that queue is full, answered as BrokerUnavailable with nothing sent. Acknowledgements are served by one
poll thread; all those one poll() serves (a produce response acknowledges a whole batch) reach the event loop
in one call_soon_threadsafe, not one wake-up per record.

Partitioning: murmur2 of the key, as the Java client, kafka-python and topics.session_partition compute it.
librdkafka's default (consistent_random, CRC32) would put a session on another partition than the one the
workers keep its state for.

Readiness as AsyncProducer's: until the cluster first answered, a send fails at once (BrokerUnavailable, 503).
A probe asks for the cluster's metadata through the producer's own connections
every couple of seconds (no second client); a failed send marks it not ready until the next successful probe
or acknowledgement, and librdkafka reporting all brokers down marks it not ready at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Mapping
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from services.common import kafka_security
from services.common.delivery import BrokerUnavailable, Delivered, DeliveryFailed

log = logging.getLogger("interarec.kafka")


def producer_config(bootstrap: str, client_id: str, *, max_request_size: int, batch_bytes: int, linger_ms: int,
                    buffer_bytes: int, delivery_timeout_s: float,
                    security: kafka_security.KafkaSecurity | None = None) -> dict[str, Any]:
    """librdkafka's properties for the settings kafka_producer.AsyncProducer gives kafka-python."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",  # murmur2 for keyed records, as the Java client (see above)
        "linger.ms": linger_ms,
        "batch.size": batch_bytes,
        "message.max.bytes": max_request_size,  # a produce request's size (kafka-python's max_request_size)
        "queue.buffering.max.kbytes": max(1, buffer_bytes // 1024),  # kafka-python's buffer_memory
        "request.timeout.ms": 15_000,
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "socket.nagle.disable": True,  # as kafka-python (TCP_NODELAY): no 40 ms waits on a request's tail
        **kafka_security.librdkafka_config(security),
    }


class RdAsyncProducer:
    def __init__(self, bootstrap: str, client_id: str, max_request_size: int = 4 * 1024 * 1024,
                 probe_interval_s: float = 2.0, security: kafka_security.KafkaSecurity | None = None,
                 batch_bytes: int = 16384, linger_ms: int = 2, buffer_bytes: int = 32 * 1024 * 1024,
                 delivery_timeout_s: float = 30.0, probe_topic: str | None = None,
                 extra_config: Mapping[str, Any] | None = None):
        """probe_topic: the readiness probe asks for this topic's metadata only (default: every topic's);
        extra_config: more librdkafka properties (e.g. statistics)."""
        self.bootstrap = bootstrap
        self.client_id = client_id
        self._config = {**producer_config(bootstrap, client_id, max_request_size=max_request_size,
                                          batch_bytes=batch_bytes, linger_ms=linger_ms, buffer_bytes=buffer_bytes,
                                          delivery_timeout_s=delivery_timeout_s, security=security),
                        # librdkafka's own lines would repeat every reconnect (several a second); its errors
                        # reach _on_error, which says each kind once until the cluster answers again
                        "logger": log, "log_level": 2, "error_cb": self._on_error, **(extra_config or {})}
        self._probe_topic = probe_topic
        self._probe_interval_s = probe_interval_s
        self._producer: Producer | None = None
        self._stop = threading.Event()
        self._probe_ok = False
        self._connected = False  # the cluster answered once since start (before: every send fails at once)
        self._last_send_failed = False
        self._fatal = False
        self._errors_said: set[int] = set()  # error codes logged since the cluster last answered
        # acknowledgements served by poll() (or flush() at close), waiting to be handed to their event loop
        self._reports: deque[tuple[asyncio.Future, KafkaError | None, Delivered | None]] = deque()
        self._poller = threading.Thread(target=self._poll, name=f"{client_id}-poll", daemon=True)
        self._prober = threading.Thread(target=self._probe, name=f"{client_id}-probe", daemon=True)

    def start(self) -> None:
        # librdkafka connects on its own threads: this returns at once, the broker up or not
        self._producer = Producer(self._config)
        self._poller.start()
        self._prober.start()

    @property
    def ready(self) -> bool:
        return self._producer is not None and self._probe_ok and not self._last_send_failed and not self._fatal

    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float = 10.0) -> Delivered:
        """Send and wait for the broker's acknowledgement (acks=all). Raises BrokerUnavailable (nothing sent),
        DeliveryFailed (the broker did not take it) or TimeoutError (no answer within timeout_s)."""
        producer = self._producer
        if producer is None or not self._connected:
            raise BrokerUnavailable(f"Kafka at {self.bootstrap} is not reachable")
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        try:
            producer.produce(topic, value=value, key=key, on_delivery=partial(self._reported, done))
        except BufferError:
            raise BrokerUnavailable(f"the producer's queue for Kafka at {self.bootstrap} is full") from None
        except KafkaException as exc:  # refused before queueing, e.g. larger than message.max.bytes
            self._last_send_failed = True
            raise DeliveryFailed(_describe(exc.args[0])) from None
        timer = loop.call_later(timeout_s, self._expire, done, timeout_s)
        try:
            return await done
        finally:
            timer.cancel()

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._producer is None:
            return
        self._poller.join(timeout=5)
        left = self._producer.flush(timeout_s)  # serves the last acknowledgements on this thread
        self._hand_over()
        if left:
            log.warning("closed with %d record(s) not acknowledged by Kafka at %s", left, self.bootstrap)

    # --- on librdkafka's side

    def _reported(self, done: asyncio.Future, err: KafkaError | None, msg) -> None:
        """librdkafka's delivery report (on the poll thread): queued for the event loop."""
        self._reports.append((done, err, None if err else Delivered(msg.topic(), msg.partition(), msg.offset())))

    def _poll(self) -> None:
        producer = self._producer
        while not self._stop.is_set():
            producer.poll(0.2)  # returns as soon as it served reports (or logs, errors), else after 0.2 s
            self._hand_over()

    def _hand_over(self) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        while self._reports:
            report = self._reports.popleft()
            by_loop.setdefault(report[0].get_loop(), []).append(report)
        for loop, reports in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._settle, reports)
            except RuntimeError:  # that loop is closed: nobody waits for these any more
                pass

    def _settle(self, reports: list) -> None:
        """On the event loop: resolve the waiting sends (one timed out or cancelled meanwhile is left alone)."""
        for done, err, delivered in reports:
            self._last_send_failed = err is not None
            if done.done():
                continue
            if err is None:
                done.set_result(delivered)
            else:
                done.set_exception(DeliveryFailed(_describe(err)))

    def _expire(self, done: asyncio.Future, timeout_s: float) -> None:
        if not done.done():
            self._last_send_failed = True
            done.set_exception(TimeoutError(f"Kafka at {self.bootstrap} did not acknowledge within {timeout_s:g} s"))

    def _on_error(self, err: KafkaError) -> None:
        """librdkafka's client-level errors (served by poll): it reconnects and retries by itself, so this only
        reports, each kind of error once until the cluster answers again."""
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._probe_ok = False
        if err.fatal():  # the idempotent producer cannot go on: every later send fails, so never ready again
            self._fatal = True
            log.error("Kafka producer failed for good (%s): restart the process", _describe(err))
        elif err.code() not in self._errors_said:
            self._errors_said.add(err.code())
            log.warning("Kafka at %s: %s (retrying)", self.bootstrap, _describe(err))

    def _probe(self) -> None:
        while not self._stop.is_set():
            try:
                if self._probe_topic is None:
                    self._producer.list_topics(timeout=5)
                else:
                    self._producer.list_topics(self._probe_topic, timeout=5)
                if not self._probe_ok or self._last_send_failed:
                    log.info("Kafka at %s reachable: ready", self.bootstrap)
                self._probe_ok, self._last_send_failed, self._connected = True, False, True
                self._errors_said.clear()
            except KafkaException as exc:
                if self._probe_ok:
                    log.warning("Kafka at %s not reachable (%s): not ready", self.bootstrap, _describe(exc.args[0]))
                self._probe_ok = False
            self._stop.wait(self._probe_interval_s)


def _describe(err: KafkaError | object) -> str:
    """The error's name and text (never a record's bytes: librdkafka's errors carry none)."""
    if isinstance(err, KafkaError):
        return f"{err.name()}: {err.str()}"
    return str(err)
