"""The optimizer learns from interarec.feedback.v1 on the real broker, keeps what it learned across a
restart (changelog-backed table), and publishes a reason per item and a solve status."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from kafka import KafkaProducer

from interarec.v1 import feedback_pb2
from services.common.catalog import Catalog
from services.common.topics import FEEDBACK

pytestmark = pytest.mark.integration


def metric(port: int, name: str) -> float:
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


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
