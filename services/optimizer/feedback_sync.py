"""Every optimizer replica follows the whole feedback-counts changelog, so each learns from all feedback.

Why not a Faust GlobalTable: in faust-streaming a GlobalTable updated by one instance is not reliably seen
by the others at runtime (faust-streaming/faust#283, open; robinhood/faust#751, #716, #541), and its
recovery runs inside Faust's rebalance machinery. Instead the feedback agent keeps its exact per-partition
counts in an ordinary changelog-backed table (the owner of a feedback partition is the only writer of its
keys, with the offset check against redelivery), and every replica reads that table's changelog here
with a plain Kafka consumer outside any consumer group: all partitions, from the beginning at start, then
its tail. Each record is a cumulative Counts for one (tenant, product, feedback partition); records are
folded into the learner by feedback.FeedbackFold, which ignores anything not newer than what it holds, so
a replica's own writes (folded immediately by the agent) and their echo from the changelog do not count
twice.

Cost: every replica reads every changelog record: one record of about 110 bytes per feedback event
(Faust writes one per table update), decoded and folded in O(partitions), about 10 us per record on the
2-core dev box (so ~100,000 feedback events/s cluster-wide would cost each replica one core). A start
reads the changelog since its last compaction: Kafka compacts closed segments to one record per key,
and the table rolls a segment every hour (app.py), so a restart replays at most about an hour of
feedback plus one record per (tenant, product, partition). Work is done in batches of at most
BATCH_RECORDS records with a yield to the event loop between batches (about 5 ms each), so a long
replay never holds up requests, heartbeats or commits.
Tenants stay separate: the tenant is part of every key and the learner keeps one state per tenant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_security import aiokafka_kwargs

log = logging.getLogger("interarec.optimizer.feedback_sync")

BATCH_RECORDS = 500
RETRY_S = 2.0

OnRecord = Callable[[bytes | None, bytes | None], None]


class ChangelogFollower:
    """Reads one topic, all partitions, start to tail, outside any consumer group; calls on_record(key,
    value) for each record (on the event loop, never awaiting in between). `caught_up` is set once the
    end offsets seen at start have been reached."""

    def __init__(self, topic: str, partitions: int, bootstrap: str, on_record: OnRecord,
                 client_id: str = "changelog-follower"):
        self.topic = topic
        self.partitions = partitions  # as the table declares them (Faust creates the changelog with this many)
        self.bootstrap = bootstrap
        self.on_record = on_record
        self.client_id = client_id
        self._auth = aiokafka_kwargs()  # read and checked at construction, not at the first reconnect
        self.caught_up = asyncio.Event()
        self.records = 0
        self._positions: dict[TopicPartition, int] = {}  # next offset per partition, kept across reconnects
        self._targets: dict[TopicPartition, int] | None = None

    async def run(self) -> None:
        """Follow until cancelled; a failed connection is retried, resuming where it stopped."""
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                        auto_offset_reset="earliest", client_id=self.client_id, **self._auth)
            try:
                await consumer.start()
                await self._follow(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker outage must not stop learning for good
                log.warning("following %s failed (%r); retrying in %.0fs", self.topic, exc, RETRY_S)
                await asyncio.sleep(RETRY_S)
            finally:
                await consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while self.topic not in await consumer.topics():  # Faust creates the changelog when a worker starts
            await asyncio.sleep(1.0)
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        consumer.assign(tps)
        for tp in tps:
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            else:
                await consumer.seek_to_beginning(tp)
        if self._targets is None:
            self._targets = await consumer.end_offsets(tps)
            self._started = time.monotonic()
        self._check_caught_up()
        while True:
            batches = await consumer.getmany(*tps, timeout_ms=1000, max_records=BATCH_RECORDS)
            for tp, messages in batches.items():
                for m in messages:
                    self.on_record(m.key, m.value)
                    self.records += 1
                if messages:
                    self._positions[tp] = messages[-1].offset + 1
            if not self.caught_up.is_set():
                for tp in tps:  # an empty or compacted partition has no record at the end offset
                    self._positions[tp] = max(self._positions.get(tp, 0), await consumer.position(tp))
                self._check_caught_up()
            await asyncio.sleep(0)  # a batch at a time: let requests, heartbeats and commits run

    def _check_caught_up(self) -> None:
        if self.caught_up.is_set() or self._targets is None:
            return
        if all(self._positions.get(tp, 0) >= end for tp, end in self._targets.items()):
            self.caught_up.set()
            log.info("read %s up to its end at start: %d records in %.1f s", self.topic, self.records,
                     time.monotonic() - self._started)
