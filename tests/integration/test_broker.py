"""The local broker from infra/kafka against the project's topic specs: configs, big frames, size limits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from types import ModuleType

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import MessageSizeTooLargeError

from infra.kafka.broker import free_port
from services.common.tenants import hash_key
from services.common.topics import ALL_TOPICS, FRAMES, TopicSpec, apply_topics

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture
def admin(kafka_bootstrap: str):
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="test-broker")
    yield client
    client.close()


def _topic_configs(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])["topic"]
    return {name: {k: v["value"] for k, v in described[name].items()} for name in names}


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}


def _eventually(check, timeout_s: float = 15.0):
    """Topic metadata reaches the broker's cache a moment after CreateTopics returns: poll briefly."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except (KeyError, ValueError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.1)


def _producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=4 * MIB, linger_ms=0,
                         request_timeout_ms=30_000)


def test_topics_match_specs_and_apply_is_idempotent(kafka_bootstrap: str, admin: KafkaAdminClient) -> None:
    names = [s.name for s in ALL_TOPICS]
    # The fixture applied them once already; a second (and third) apply creates nothing and changes nothing.
    for _ in range(2):
        log = apply_topics(kafka_bootstrap)
        assert not [line for line in log if line.startswith(("created", "grew"))], log
    assert _partition_counts(admin, names) == {s.name: s.partitions for s in ALL_TOPICS}
    configs = _topic_configs(admin, names)
    for spec in ALL_TOPICS:
        for key, value in spec.configs().items():
            assert configs[spec.name].get(key) == value, (spec.name, key)


def test_apply_repairs_drift_and_grows_partitions(kafka_bootstrap: str, admin: KafkaAdminClient) -> None:
    spec = TopicSpec(f"test.drift.{uuid.uuid4().hex[:8]}", 1, 60_000, cleanup_policy="compact,delete")
    try:
        apply_topics(kafka_bootstrap, (spec,))
        _eventually(lambda: _topic_configs(admin, [spec.name])[spec.name].get("retention.ms") == "60000")
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, configs={"retention.ms": "1000"})])
        _eventually(lambda: _topic_configs(admin, [spec.name])[spec.name]["retention.ms"] == "1000")

        grown = TopicSpec(spec.name, 3, spec.retention_ms, cleanup_policy=spec.cleanup_policy)
        log = apply_topics(kafka_bootstrap, (grown,))
        assert f"grew {spec.name} to 3 partitions" in log
        _eventually(lambda: _partition_counts(admin, [spec.name]) == {spec.name: 3})
        want = grown.configs()
        _eventually(lambda: {k: _topic_configs(admin, [spec.name])[spec.name].get(k) for k in want} == want)
    finally:
        admin.delete_topics([spec.name])  # an external broker may be shared


def test_apply_refuses_topics_with_more_partitions_than_the_processes_use(kafka_bootstrap: str,
                                                                          admin: KafkaAdminClient) -> None:
    """A process told 2 partitions would send a session's state to partition murmur2 % 2 while the producers
    spread its frames over the topic's 4: `topics apply` says so and changes nothing, rather than run skewed."""
    before = _partition_counts(admin, [s.name for s in ALL_TOPICS])
    env = {**os.environ, "INTERAREC_KAFKA_PARTITIONS": "2"}
    run = subprocess.run([sys.executable, "-m", "services.common.topics", "apply", "--bootstrap", kafka_bootstrap],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 2, run.stderr
    assert f"{FRAMES.name} has {FRAMES.partitions}" in run.stderr
    assert "INTERAREC_KAFKA_PARTITIONS is 2" in run.stderr
    assert _partition_counts(admin, [s.name for s in ALL_TOPICS]) == before


@pytest.mark.parametrize("service", ["decomposer", "gateway"])
def test_a_service_configured_for_other_partitions_than_its_topics_stops_with_a_message(
        kafka_bootstrap: str, catalog_path, service: str) -> None:
    """Not a worker that runs and silently looks for each session's state on the wrong partition, nor a gateway
    whose 202 names a partition the workers compute differently."""
    env = {**os.environ, "INTERAREC_KAFKA_PARTITIONS": "8", "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "INTERAREC_CATALOG_PATH": str(catalog_path), "INTERAREC_STATE_STORE": "memory",
           "INTERAREC_API_KEYS": f"t:{hash_key('k')}", "INTERAREC_GATEWAY_PORT": str(free_port())}
    run = subprocess.run([sys.executable, "-m", f"services.{service}"], capture_output=True, text=True, timeout=120,
                         env=env)
    assert run.returncode == 2, run.stderr[-2000:]
    line = next(ln for ln in run.stderr.splitlines() if "configuration error" in ln)
    assert line.startswith(f"{service}: configuration error: {FRAMES.name} has {FRAMES.partitions}"), run.stderr
    assert "partitions but INTERAREC_KAFKA_PARTITIONS is 8" in line


def test_large_frame_round_trips_byte_identical(kafka_bootstrap: str) -> None:
    payload = os.urandom(1_500_000)  # incompressible, like a JPEG
    key = f"session-{uuid.uuid4().hex}".encode()
    producer = _producer(kafka_bootstrap)
    try:
        meta = producer.send(FRAMES.name, key=key, value=payload).get(timeout=30)
    finally:
        producer.close()

    tp = TopicPartition(FRAMES.name, meta.partition)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=4 * MIB, fetch_max_bytes=8 * MIB)
    try:
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        deadline = time.monotonic() + 30
        record = None
        while record is None and time.monotonic() < deadline:
            for rec in consumer.poll(timeout_ms=1000).get(tp, []):
                if rec.offset == meta.offset:
                    record = rec
                    break
    finally:
        consumer.close()
    assert record is not None, "the frame was not consumed back within 30 s"
    assert record.key == key
    assert len(record.value) == len(payload) and record.value == payload


def test_message_over_topic_limit_is_rejected_and_not_written(kafka_bootstrap: str) -> None:
    too_big = os.urandom(FRAMES.max_message_bytes + 64 * 1024)  # over the topic's 2 MiB, under the broker's 4 MiB
    key = b"oversize-session"
    producer = _producer(kafka_bootstrap)
    try:
        # Same key, same partition: learn it from a small record, then check nothing else lands after it.
        small = producer.send(FRAMES.name, key=key, value=b"x").get(timeout=30)
        with pytest.raises(MessageSizeTooLargeError):
            producer.send(FRAMES.name, key=key, value=too_big).get(timeout=30)
    finally:
        producer.close()
    tp = TopicPartition(FRAMES.name, small.partition)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    try:
        assert consumer.end_offsets([tp])[tp] == small.offset + 1
    finally:
        consumer.close()


def test_broker_that_dies_at_start_reports_its_log(kafka_bootstrap: str, kafka_broker_module: ModuleType,
                                                     tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Requesting kafka_bootstrap only guarantees the jars are installed (or an external broker is used).
    kb = kafka_broker_module
    if not kb.is_installed():
        pytest.skip("local Kafka not installed (external KAFKA_BOOTSTRAP_SERVERS in use)")
    monkeypatch.setattr(kb, "BROKER_HEAP", ("-Xmx1k",))  # the JVM refuses to start
    t0 = time.monotonic()
    with pytest.raises(kb.BrokerError) as err:
        kb.start(tmp_path, *kb.free_ports(2), timeout=30)
    assert time.monotonic() - t0 < 20, "an early exit must be reported at once, not after the timeout"
    assert "exited before it was ready" in str(err.value)
    assert "heap" in str(err.value).lower()  # the JVM's own message, from the log tail
    assert not (tmp_path / kb.PID_FILE).exists()
