"""The optimizer learns from interarec.feedback.v1 on the real broker, keeps what it learned across a
restart (changelog-backed table), and every replica learns from the feedback any replica consumed."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from kafka import KafkaProducer

from infra.local.stack import Ports, Stack
from interarec.v1 import feedback_pb2
from services.common.catalog import Catalog
from services.common.keys import session_key
from services.common.topics import FEEDBACK, session_partition

pytestmark = pytest.mark.integration


def metric(port: int, name: str) -> float:
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def feedback_partitions(port: int) -> set[int]:
    """The feedback partitions a worker is assigned, as its consumer-lag metric reports them."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    lines = (line for line in text.splitlines() if line.startswith("interarec_optimizer_consumer_lag_messages{"))
    return {int(m.group(1)) for line in lines if f'topic="{FEEDBACK.name}"' in line
            and (m := re.search(r'partition="(\d+)"', line))}


def send_feedback(bootstrap: str, tenant: str, sessions: list[str], product_ids: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for session, product_id in zip(sessions, product_ids, strict=True):
        key = session_key(tenant, session)
        for event in (feedback_pb2.FEEDBACK_EVENT_IMPRESSION, feedback_pb2.FEEDBACK_EVENT_CLICK):
            msg = feedback_pb2.Feedback(session_id=session, tenant=tenant, window_seq=1, product_id=product_id,
                                        event=event, event_unix_ms=int(time.time() * 1000))
            producer.send(FEEDBACK.name, key=key.encode(), value=msg.SerializeToString(),
                          partition=session_partition(key, FEEDBACK.partitions))
    producer.flush()
    producer.close()


def wait_for(fn, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.5)
    return False


def test_feedback_is_learned_and_survives_a_restart(stack, kafka_bootstrap, catalog_path):
    port = stack.service("optimizer").port
    products = Catalog.load(catalog_path).products[:3]
    session = f"fb-{uuid.uuid4().hex[:8]}"
    # The stack is shared: other tests' shoppers may have clicked before, so count from here.
    clicks_total = "interarec_optimizer_feedback_clicks"
    clicks = 'interarec_optimizer_feedback_events_total{event="FEEDBACK_EVENT_CLICK"}'
    before, before_events = metric(port, clicks_total), metric(port, clicks)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for p in products:
        for event in (feedback_pb2.FEEDBACK_EVENT_IMPRESSION, feedback_pb2.FEEDBACK_EVENT_CLICK):
            msg = feedback_pb2.Feedback(session_id=session, tenant="demo", window_seq=1, product_id=p.product_id,
                                        event=event, event_unix_ms=int(time.time() * 1000))
            producer.send(FEEDBACK.name, key=session.encode(), value=msg.SerializeToString())
    producer.flush()
    producer.close()
    assert wait_for(lambda: metric(port, clicks_total) == before + 3), "feedback not consumed"
    assert metric(port, clicks) == before_events + 3
    assert metric(port, "interarec_optimizer_feedback_products") >= 3

    stack.kill("optimizer")  # SIGKILL: whatever was not committed is redelivered
    stack.restart("optimizer")
    # the learned counts come back from the changelog, and a redelivered event is not counted twice
    assert wait_for(lambda: metric(port, clicks_total) >= before + 3), "learned state lost"
    time.sleep(5)  # time for any redelivery to be (not) counted
    assert metric(port, clicks_total) == before + 3
    assert metric(port, clicks) == 0  # nothing was learned again after the restart


def test_every_replica_learns_feedback_consumed_by_another(stack, kafka_bootstrap, kafka_broker_module,
                                                           catalog_path, tmp_path):
    """Two optimizer replicas in one consumer group: the stack's (A) and a second process (B). Clicks in
    sessions whose feedback partitions A owns reach B's learner, and B still has them after a SIGKILL."""
    a = stack.service("optimizer").port
    replica = Stack(bootstrap=kafka_bootstrap, catalog_path=catalog_path, log_dir=tmp_path / "logs",
                    var_dir=tmp_path / "var", ports=Ports(*kafka_broker_module.free_ports(6)),
                    extra_env={"INTERAREC_CONSUMER_LAG_INTERVAL_S": "1"})
    replica.start(timeout_s=120, progress=print, only=("optimizer",))
    try:
        b = replica.service("optimizer").port
        every = set(range(FEEDBACK.partitions))
        # the group has settled when the two replicas report disjoint shares of every feedback partition
        # (both refreshed after B joined: B's list is empty, or A's still has every partition, until then)
        assert wait_for(lambda: (pa := feedback_partitions(a)) and (pb := feedback_partitions(b)) and pb == every - pa,
                        timeout_s=90), (feedback_partitions(a), feedback_partitions(b))
        owned_by_a = feedback_partitions(a)
        products = [p.product_id for p in Catalog.load(catalog_path).products[3:7]]
        candidates = (f"rep-{uuid.uuid4().hex[:8]}" for _ in iter(int, 1))
        sessions = []  # sessions whose feedback A consumes, not B
        while len(sessions) < len(products):
            session = next(candidates)
            if session_partition(session_key("demo", session), FEEDBACK.partitions) in owned_by_a:
                sessions.append(session)
        clicks_total = "interarec_optimizer_feedback_clicks"
        consumed = 'interarec_optimizer_feedback_events_total{event="FEEDBACK_EVENT_CLICK"}'
        assert wait_for(lambda: metric(b, "interarec_optimizer_feedback_synced") == 1)
        assert wait_for(lambda: metric(b, clicks_total) == metric(a, clicks_total)), "B did not catch up"
        before, consumed_a, consumed_b = metric(a, clicks_total), metric(a, consumed), metric(b, consumed)

        send_feedback(kafka_bootstrap, "demo", sessions, products)
        started = time.monotonic()
        assert wait_for(lambda: metric(a, consumed) == consumed_a + len(sessions)), "A did not consume them"
        assert wait_for(lambda: metric(b, clicks_total) == before + len(sessions)), "B did not learn A's clicks"
        print(f"B learned A's clicks {time.monotonic() - started:.1f} s after they were sent")
        assert metric(b, consumed) == consumed_b  # B learned them from A's counts, it did not consume them
        assert metric(a, clicks_total) == before + len(sessions)

        replica.kill("optimizer")  # SIGKILL: B's memory is gone; what it learned must come back from Kafka
        replica.restart("optimizer", timeout_s=120, progress=print)
        assert wait_for(lambda: metric(b, "interarec_optimizer_feedback_synced") == 1), "B did not resync"
        assert metric(b, clicks_total) == before + len(sessions)
        assert metric(b, "interarec_optimizer_feedback_products") >= len(products)
    finally:
        replica.stop()
        # hand the shared stack back as found: its optimizer owns every partition again
        wait_for(lambda: feedback_partitions(a) == set(range(FEEDBACK.partitions)))
