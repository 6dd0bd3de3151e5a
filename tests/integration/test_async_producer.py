"""AsyncProducer against a real broker: a send to a topic whose partitions are known never waits for a pool
thread, so sends stuck on another topic's metadata (kafka-python blocks up to max_block_ms there) cannot hold
back the frames topic; and the first send to a topic still works through the pool."""

from __future__ import annotations

import asyncio
import threading
import time

from services.common.kafka_producer import AsyncProducer
from services.common.topics import FRAMES


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
