"""The consumer-lag reader against a real broker: end offsets minus the group's committed offsets."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from services.common.lag import LagReader, Partition

pytestmark = pytest.mark.integration


def test_lag_is_what_the_group_has_not_committed(kafka_bootstrap):
    topic, group = f"lag-test-{uuid.uuid4().hex[:8]}", f"lag-group-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for _ in range(10):
        producer.send(topic, value=b"x", partition=0)
    for _ in range(4):
        producer.send(topic, value=b"y", partition=1)
    producer.flush()
    producer.close()
    p0, p1 = Partition(topic, 0), Partition(topic, 1)

    reader = LagReader(kafka_bootstrap, group)
    try:
        # Nothing committed yet: everything retained counts.
        assert reader.read({p0, p1}) == {p0: 10, p1: 4}
        consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(7, "", -1)})
        consumer.close()
        assert reader.read({p0, p1}) == {p0: 3, p1: 4}
        assert reader.read(set()) == {}
    finally:
        reader.close()
