"""Gateway and storefront API in-process against the real broker: what a 202 promises is on the topic."""

from __future__ import annotations

import hashlib
import io
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from PIL import Image

from interarec.v1 import feedback_pb2, frames_pb2, recommendations_pb2
from services.common.keys import session_key
from services.common.topics import FEEDBACK, FRAMES, RECOMMENDATIONS, session_partition
from services.gateway.app import GatewaySettings, create_app
from services.storefront_api.app import StorefrontSettings
from services.storefront_api.app import create_app as create_storefront

pytestmark = pytest.mark.integration


def records_for(bootstrap: str, topic: str, key: bytes, timeout_s: float = 10.0) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=1000)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    found, deadline = [], time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        found = [r for r in consumer if r.key == key]
    consumer.close()
    return found


def gateway(bootstrap: str) -> TestClient:
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=bootstrap, api_keys={"k1": "acme"},
                               max_upload_bytes=8 * 1024 * 1024, ack_timeout_s=5)
    return TestClient(create_app(settings))


def wait_ready(client: TestClient, timeout_s: float = 20) -> int:
    deadline = time.monotonic() + timeout_s
    while (status := client.get("/readyz").status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    return status


def screenshot_png() -> bytes:
    img = Image.new("RGB", (1280, 800), "white")
    img.paste((200, 30, 30), (100, 100, 400, 300))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_accepted_frame_is_on_the_frames_topic_reencoded(kafka_bootstrap):
    session = f"gw-{uuid.uuid4().hex[:8]}"
    with gateway(kafka_bootstrap) as client:
        assert wait_ready(client) == 200
        resp = client.post(f"/v1/sessions/{session}/frames", content=screenshot_png(),
                           headers={"X-API-Key": "k1", "Content-Type": "image/png", "X-Frame-Seq": "7",
                                    "X-Capture-Time": "1790000000000", "X-Page-Url": "http://shop/p/P00001"})
        assert resp.status_code == 202, resp.text
        body = resp.json()
        metrics = client.get("/metrics").text
    # keyed by tenant/session from the gateway on: two tenants' sessions of the same id never share state
    records = records_for(kafka_bootstrap, FRAMES.name, session_key("acme", session).encode())
    assert len(records) == 1
    assert (records[0].partition, records[0].offset) == (body["partition"], body["offset"])
    # the summarizer's session table computes the same partition without asking the broker
    assert session_partition(session_key("acme", session), FRAMES.partitions) == body["partition"]
    frame = frames_pb2.Frame()
    frame.ParseFromString(records[0].value)
    assert (frame.session_id, frame.tenant, frame.frame_seq) == (session, "acme", 7)
    assert frame.capture_unix_ms == 1790000000000 and frame.page_url == "http://shop/p/P00001"
    assert frame.mime_type == "image/jpeg" and Image.open(io.BytesIO(frame.image)).size == (1280, 800)
    assert frame.sha256 == hashlib.sha256(frame.image).hexdigest()
    assert [s.stage for s in frame.trace.stages] == ["gateway"]
    assert 'interarec_gateway_frames_total{outcome="accepted"}' in metrics


def test_unreachable_broker_gives_503_and_writes_nothing(kafka_broker_module):
    (closed_port,) = kafka_broker_module.free_ports(1)
    with gateway(f"127.0.0.1:{closed_port}") as client:
        assert client.get("/readyz").status_code == 503
        resp = client.post("/v1/sessions/s1/frames", content=screenshot_png(),
                           headers={"X-API-Key": "k1", "Content-Type": "image/png"})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "broker_unavailable"


def test_storefront_serves_latest_and_records_feedback(kafka_bootstrap):
    session = f"sf-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for seq in (2, 1):  # the older window arrives last and must not win
        rec = recommendations_pb2.Recommendation(session_id=session, window_seq=seq, expected_revenue=10.0 * seq)
        rec.items.add(product_id=f"P0000{seq}", title="Item", price=10.0)
        producer.send(RECOMMENDATIONS.name, key=session.encode(), value=rec.SerializeToString())
    producer.flush()
    producer.close()
    settings = StorefrontSettings(host="127.0.0.1", port=0, bootstrap=kafka_bootstrap, cors_origins=["*"])
    with TestClient(create_storefront(settings)) as client:
        assert wait_ready(client) == 200
        deadline = time.monotonic() + 10
        while (resp := client.get(f"/v1/sessions/{session}/recommendations")).status_code != 200:
            assert time.monotonic() < deadline, "recommendation never loaded"
            time.sleep(0.2)
        assert resp.json()["window_seq"] == 2 and resp.json()["items"][0]["product_id"] == "P00002"
        assert client.get("/v1/sessions/nobody/recommendations").status_code == 404

        bad = client.post(f"/v1/sessions/{session}/feedback", json={"product_id": "P00002", "event": "like"})
        assert bad.status_code == 400 and "click" in bad.json()["error"]["message"]
        ok = client.post(f"/v1/sessions/{session}/feedback",
                         json={"product_id": "P00002", "event": "click", "window_seq": 2})
        assert ok.status_code == 202
    records = records_for(kafka_bootstrap, FEEDBACK.name, session.encode())
    assert len(records) == 1
    fb = feedback_pb2.Feedback()
    fb.ParseFromString(records[0].value)
    assert (fb.product_id, fb.event, fb.window_seq) == ("P00002", feedback_pb2.FEEDBACK_EVENT_CLICK, 2)
