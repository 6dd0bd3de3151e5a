"""A kafka-python producer usable from asyncio: `await send(...)` resolves only once the broker acked.

kafka-python's `send()` (3.x) blocks its caller only while the topic's partitions are unknown (up to
`max_block_ms`, waiting for metadata); otherwise it appends to a batch and returns at once. So a send to a
topic with known partitions runs on the event loop (a thread hop per frame cost about 12 % of the gateway's
CPU), and any other is handed to a small bounded thread pool. The acknowledgement itself arrives on the
producer's I/O thread and is bridged to the loop.

Batching: by default kafka-python closes a batch at 16 KB, so a 180 KB frame is always a batch (and a wake-up
of the I/O thread) of its own. A caller sending many large records at once (the gateway) passes `batch_bytes`
and `linger_ms`, so records sent within a few milliseconds of each other to one partition share a batch and
a produce request; every record's future still resolves only on the broker's acknowledgement (acks=all).

Readiness recovers on its own: a background probe asks the cluster for its metadata every couple of
seconds. A failed send marks the producer not ready only until the next successful probe or send, so a pod
taken out of a Service's endpoints comes back when the broker does, without needing traffic to prove it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from kafka import KafkaProducer
from kafka.errors import KafkaError

from services.common import kafka_security
from services.common.delivery import BrokerUnavailable

__all__ = ["AsyncProducer", "BrokerUnavailable"]
log = logging.getLogger(__name__)


class AsyncProducer:
    def __init__(self, bootstrap: str, client_id: str, max_request_size: int = 4 * 1024 * 1024,
                 connect_retry_s: float = 2.0, probe_interval_s: float = 2.0, max_block_s: float = 10.0,
                 send_threads: int = 4, security: kafka_security.KafkaSecurity | None = None,
                 batch_bytes: int = 16384, linger_ms: int = 2):
        self.bootstrap = bootstrap
        self._auth = kafka_security.kafka_python_kwargs(security)  # read and checked now, at start-up
        self.client_id = client_id
        self.max_request_size = max_request_size
        self.max_block_s = max_block_s
        self.batch_bytes, self.linger_ms = batch_bytes, linger_ms
        self._producer: KafkaProducer | None = None
        self._stop = threading.Event()
        self._retry_s = connect_retry_s
        self._probe_interval_s = probe_interval_s
        self._probe_ok = False
        self._last_send_failed = False
        self._send_pool = ThreadPoolExecutor(max_workers=send_threads, thread_name_prefix=f"{client_id}-send")
        self._topics_known: set[str] = set()  # topics a send() has already fetched the metadata of
        self._thread = threading.Thread(target=self._connect_and_probe, name=f"{client_id}-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _connect_and_probe(self) -> None:
        # The service starts (and reports not-ready) even when the broker is not up yet.
        while not self._stop.is_set() and self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap.split(","), client_id=self.client_id,
                    acks="all", enable_idempotence=True, linger_ms=self.linger_ms,
                    batch_size=self.batch_bytes, max_request_size=self.max_request_size, request_timeout_ms=15_000,
                    max_block_ms=int(self.max_block_s * 1000), **self._auth,
                )
                log.info("connected to Kafka at %s", self.bootstrap)
            except KafkaError as exc:
                log.warning("Kafka at %s not reachable yet (%s); retrying", self.bootstrap, exc)
                self._stop.wait(self._retry_s)
        admin = None
        while not self._stop.is_set():
            try:
                if admin is None:
                    from kafka.admin import KafkaAdminClient

                    admin = KafkaAdminClient(bootstrap_servers=self.bootstrap.split(","),
                                             client_id=f"{self.client_id}-probe", request_timeout_ms=5_000,
                                             bootstrap_timeout_ms=5_000, **self._auth)
                admin.describe_cluster()
                if not self._probe_ok or self._last_send_failed:
                    log.info("Kafka at %s reachable: ready", self.bootstrap)
                self._probe_ok, self._last_send_failed = True, False
            except Exception as exc:  # noqa: BLE001 -- any failure means: not ready, probe again soon
                if self._probe_ok:
                    log.warning("Kafka at %s not reachable (%r): not ready", self.bootstrap, exc)
                self._probe_ok = False
                if admin is not None:
                    try:
                        admin.close()
                    except Exception:  # noqa: BLE001
                        pass
                    admin = None
            self._stop.wait(self._probe_interval_s)
        if admin is not None:
            admin.close()

    @property
    def failed(self) -> str | None:
        return None  # kafka-python reconnects and retries on every error: it never fails for good

    @property
    def ready(self) -> bool:
        return self._producer is not None and self._probe_ok and not self._last_send_failed

    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float = 10.0):
        """Send and wait for the broker's acknowledgement (acks=all). Returns RecordMetadata."""
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(f"Kafka at {self.bootstrap} is not reachable")
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def settle(ok: bool, value) -> None:
            self._last_send_failed = not ok
            if not done.done():
                (done.set_result if ok else done.set_exception)(value)

        def hand_off() -> None:  # on a pool thread unless the topic's partitions are known (then: no blocking)
            future = producer.send(topic, key=key, value=value)
            future.add_callback(lambda md: loop.call_soon_threadsafe(settle, True, md))
            future.add_errback(lambda exc: loop.call_soon_threadsafe(settle, False, exc))

        started = time.monotonic()
        try:
            if topic in self._topics_known:  # send() cannot block: the topic's partitions are known
                hand_off()
            else:  # the first send() waits for the topic's metadata: on a pool thread, not the event loop
                await asyncio.wait_for(loop.run_in_executor(self._send_pool, hand_off), timeout_s)
                self._topics_known.add(topic)
            return await asyncio.wait_for(done, max(0.01, timeout_s - (time.monotonic() - started)))
        except (TimeoutError, KafkaError):
            self._last_send_failed = True
            raise

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._send_pool.shutdown(wait=False, cancel_futures=True)
        if self._producer is not None:
            started = time.monotonic()
            self._producer.flush(timeout=timeout_s)
            self._producer.close(timeout=max(0.0, timeout_s - (time.monotonic() - started)))
