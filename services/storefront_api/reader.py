"""Reads the compacted recommendations topic from the start into LatestRecommendations.

Every replica reads every partition (no consumer group): the topic is compacted and small, and any
replica can then answer for any session without routing."""

from __future__ import annotations

import asyncio
import logging
import threading

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Counter

from interarec.v1 import recommendations_pb2
from services.common.messages import BadMessage, decode
from services.common.topics import RECOMMENDATIONS
from services.storefront_api.latest import LatestRecommendations

log = logging.getLogger("interarec.storefront_api")
RECORDS = Counter("interarec_storefront_api_records_total", "Recommendation records read, by outcome", ["outcome"])


class RecommendationReader:
    def __init__(self, bootstrap: str, store: LatestRecommendations, loop: asyncio.AbstractEventLoop):
        self.bootstrap = bootstrap
        self.store = store
        self.loop = loop
        self.caught_up = threading.Event()  # readiness: the backlog present at start-up is loaded
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recommendation-reader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except KafkaError as exc:
                log.warning("recommendation reader lost Kafka (%s); reconnecting", exc)
                self._stop.wait(2.0)

    def _consume(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap.split(","), group_id=None,
                                 enable_auto_commit=False, client_id="interarec-storefront-api")
        try:
            partitions = consumer.partitions_for_topic(RECOMMENDATIONS.name)
            while not partitions and not self._stop.is_set():
                self._stop.wait(1.0)
                partitions = consumer.partitions_for_topic(RECOMMENDATIONS.name)
            tps = [TopicPartition(RECOMMENDATIONS.name, p) for p in sorted(partitions or ())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            backlog_end = consumer.end_offsets(tps)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500, max_records=500).values():
                    for record in records:
                        self._handle(record)
                if not self.caught_up.is_set() and all(consumer.position(tp) >= backlog_end[tp] for tp in tps):
                    self.caught_up.set()
                    log.info("loaded %d sessions' recommendations", len(self.store))
        finally:
            consumer.close()

    def _handle(self, record) -> None:
        if record.value is None:  # compaction tombstone
            return
        try:
            rec = decode(recommendations_pb2.Recommendation, record.value)
        except BadMessage as exc:
            # The optimizer is the only writer and dead-letters its own failures; an unreadable record here
            # is logged and counted rather than re-dead-lettered by every replica.
            RECORDS.labels(outcome="undecodable").inc()
            log.error("skipping unreadable recommendation at %s:%d: %s", record.partition, record.offset, exc)
            return
        RECORDS.labels(outcome="read").inc()
        self.loop.call_soon_threadsafe(self.store.offer, rec)
