"""A kafka-python producer usable from asyncio: `await send(...)` resolves only once the broker acked.

kafka-python's producer is thread-safe and batches in its own I/O thread; we bridge its futures to the
event loop instead of blocking a worker thread per request."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from kafka import KafkaProducer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    pass


class AsyncProducer:
    def __init__(self, bootstrap: str, client_id: str, max_request_size: int = 4 * 1024 * 1024,
                 connect_retry_s: float = 2.0):
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.max_request_size = max_request_size
        self._producer: KafkaProducer | None = None
        self._stop = threading.Event()
        self._retry_s = connect_retry_s
        self._last_send_failed = False
        self._thread = threading.Thread(target=self._connect_loop, name=f"{client_id}-connect", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _connect_loop(self) -> None:
        # The service starts (and reports not-ready) even when the broker is not up yet.
        while not self._stop.is_set() and self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap.split(","), client_id=self.client_id,
                    acks="all", enable_idempotence=True, linger_ms=2,
                    max_request_size=self.max_request_size, request_timeout_ms=15_000,
                )
                log.info("connected to Kafka at %s", self.bootstrap)
            except KafkaError as exc:
                log.warning("Kafka at %s not reachable yet (%s); retrying", self.bootstrap, exc)
                self._stop.wait(self._retry_s)

    @property
    def ready(self) -> bool:
        # Constructing the producer already talked to the cluster; after that, the last send decides.
        return self._producer is not None and not self._last_send_failed

    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float = 10.0):
        """Send and wait for the broker's acknowledgement (acks=all). Returns RecordMetadata."""
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(f"Kafka at {self.bootstrap} is not reachable")
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def settle(setter, value) -> None:
            self._last_send_failed = setter == done.set_exception
            if not done.done():
                setter(value)

        future = producer.send(topic, key=key, value=value)
        future.add_callback(lambda md: loop.call_soon_threadsafe(settle, done.set_result, md))
        future.add_errback(lambda exc: loop.call_soon_threadsafe(settle, done.set_exception, exc))
        try:
            return await asyncio.wait_for(done, timeout_s)
        except TimeoutError:
            self._last_send_failed = True
            raise

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._producer is not None:
            started = time.monotonic()
            self._producer.flush(timeout=timeout_s)
            self._producer.close(timeout=max(0.0, timeout_s - (time.monotonic() - started)))
