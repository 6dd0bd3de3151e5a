"""AsyncProducer against a real broker: a send to a topic whose partitions are known never waits for a pool
thread, so sends stuck on another topic's metadata (kafka-python blocks up to max_block_ms there) cannot hold
back the frames topic; and the first send to a topic still works through the pool. With the gateway's batching,
frames sent together share a batch, and each send still resolves only once the broker holds its frame."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from services.common.kafka_producer import AsyncProducer
from services.common.topics import FRAMES
from services.gateway.app import PRODUCER_BATCH_BYTES
from services.gateway.settings import GatewaySettings
from tests.support import values_at


async def _ready(producer: AsyncProducer) -> None:
    deadline = time.monotonic() + 30
    while producer._producer is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def test_known_topic_send_does_not_wait_for_a_busy_pool(kafka_bootstrap: str) -> None:
    producer = AsyncProducer(kafka_bootstrap, "test-async-producer", send_threads=1)
    producer.start()
    release = threading.Event()

    async def scenario() -> None:
        await _ready(producer)
        # The first send learns the topic's partitions (through the pool: it may wait for metadata).
        first = await producer.send(FRAMES.name, b"t/s", b"first", timeout_s=30)
        assert first.topic == FRAMES.name
        # The pool's only thread is now taken, as by a send waiting for an unknown topic's metadata.
        producer._send_pool.submit(release.wait, 30)
        started = time.monotonic()
        md = await producer.send(FRAMES.name, b"t/s", b"second", timeout_s=5)
        assert md.topic == FRAMES.name and md.offset >= 0
        assert time.monotonic() - started < 5

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        producer.close()


def test_concurrent_frames_share_a_batch_and_each_is_acknowledged(kafka_bootstrap: str) -> None:
    """The gateway's producer settings: six 150 KB frames sent at once to one session travel in shared batches
    (kafka-python's default would make each its own), and every send resolves with the offset the broker
    holds that frame at."""
    producer = AsyncProducer(kafka_bootstrap, "test-batching-producer", batch_bytes=PRODUCER_BATCH_BYTES,
                             linger_ms=GatewaySettings().linger_ms)
    producer.start()
    frame_bytes = 150 * 1024
    payloads = [os.urandom(frame_bytes) for _ in range(6)]
    key = f"t/batch-{os.getpid()}-{time.monotonic_ns()}".encode()

    async def scenario() -> list:
        await _ready(producer)
        await producer.send(FRAMES.name, key, b"learn the partitions", timeout_s=30)
        return await asyncio.gather(*(producer.send(FRAMES.name, key, p, timeout_s=30) for p in payloads))

    try:
        sent = asyncio.run(scenario())
        largest_batch = producer._producer.metrics()["producer-metrics"]["batch-size-max"]
    finally:
        producer.close()
    assert largest_batch >= 2 * frame_bytes, f"no two frames shared a batch (largest {largest_batch:.0f} B)"
    partition = sent[0].partition
    assert {md.partition for md in sent} == {partition}
    assert values_at(kafka_bootstrap, FRAMES.name, partition, key, [md.offset for md in sent]) == payloads
