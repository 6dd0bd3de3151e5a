"""Reads the compacted recommendations topic from the start into LatestRecommendations, and the recent
feedback (the trending horizon) into Trending.

Every replica reads every partition (no consumer group): the topics are small, and any replica can then
answer for any session without routing."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Counter

from interarec.v1 import feedback_pb2, recommendations_pb2
from services.common.catalog import Catalog
from services.common.kafka_security import kafka_python_kwargs
from services.common.messages import BadMessage, decode
from services.common.metrics import input_lag_seconds
from services.common.topics import FEEDBACK, RECOMMENDATIONS
from services.storefront_api.latest import LatestRecommendations
from services.storefront_api.trending import Trending

log = logging.getLogger("interarec.storefront_api")
RECORDS = Counter("interarec_storefront_api_records_total", "Records read, by topic and outcome",
                  ["topic", "outcome"])
# The last hop before the shopper: how long a recommendation waited in its topic before this replica could
# serve it. Observed once the start-up backlog is loaded (that backlog is old on purpose, not lag).
LAG_SECONDS = input_lag_seconds("storefront_api")
CLICKS = (feedback_pb2.FEEDBACK_EVENT_CLICK, feedback_pb2.FEEDBACK_EVENT_ADD_TO_CART,
          feedback_pb2.FEEDBACK_EVENT_PURCHASE)  # interest shown by acting on a product


class RecommendationReader:
    def __init__(self, bootstrap: str, store: LatestRecommendations, loop: asyncio.AbstractEventLoop,
                 trending: Trending | None = None, catalog: Catalog | None = None):
        self.bootstrap = bootstrap
        self.store = store
        self.loop = loop
        self.trending = trending
        self.catalog = catalog
        self._auth = kafka_python_kwargs()
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
                                 enable_auto_commit=False, client_id="interarec-storefront-api", **self._auth)
        try:
            topics = [RECOMMENDATIONS.name] + ([FEEDBACK.name] if self.trending is not None else [])
            tps: list[TopicPartition] = []
            for topic in topics:
                partitions = consumer.partitions_for_topic(topic)
                while not partitions and not self._stop.is_set():
                    self._stop.wait(1.0)
                    partitions = consumer.partitions_for_topic(topic)
                tps += [TopicPartition(topic, p) for p in sorted(partitions or ())]
            consumer.assign(tps)
            recs = [tp for tp in tps if tp.topic == RECOMMENDATIONS.name]
            consumer.seek_to_beginning(*recs)
            feedback = [tp for tp in tps if tp.topic == FEEDBACK.name]
            if feedback:  # only the trending horizon of feedback matters
                since_ms = int(time.time() * 1000) - self.trending.horizon_ms
                starts = consumer.offsets_for_times({tp: since_ms for tp in feedback})
                ends = consumer.end_offsets(feedback)
                for tp in feedback:
                    consumer.seek(tp, starts[tp].offset if starts.get(tp) is not None else ends[tp])
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
        kind = recommendations_pb2.Recommendation if record.topic == RECOMMENDATIONS.name else feedback_pb2.Feedback
        try:
            msg = decode(kind, record.value)
        except BadMessage as exc:
            # Each writer dead-letters its own failures; an unreadable record here is logged and counted
            # rather than re-dead-lettered by every replica.
            RECORDS.labels(topic=record.topic, outcome="undecodable").inc()
            log.error("skipping unreadable record at %s/%s:%d: %s", record.topic, record.partition, record.offset, exc)
            return
        RECORDS.labels(topic=record.topic, outcome="read").inc()
        if self.caught_up.is_set() and record.timestamp and record.timestamp > 0:
            LAG_SECONDS.observe(max(0.0, time.time() - record.timestamp / 1000))
        self.loop.call_soon_threadsafe(self._apply, msg, record.timestamp)

    def _apply(self, msg, ts_ms: int) -> None:
        """On the event loop: the store, its subscribers and the trend counters are loop-owned."""
        now_ms = int(time.time() * 1000)
        if isinstance(msg, recommendations_pb2.Recommendation):
            if self.store.offer(msg) and self.trending is not None and msg.tenant:
                for view in msg.request.summary.viewed_products:
                    product = self.catalog.by_id.get(view.product_id) if self.catalog else None
                    if product is not None:
                        self.trending.view(msg.tenant, msg.session_id, product.product_id, product.category,
                                           ts_ms, now_ms)
        elif msg.event in CLICKS and msg.tenant and self.trending is not None:
            product = self.catalog.by_id.get(msg.product_id) if self.catalog else None
            if product is not None:
                self.trending.click(msg.tenant, product.product_id, product.category, msg.event_unix_ms or ts_ms,
                                    now_ms)
