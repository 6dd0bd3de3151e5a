"""Gateway in-process against the real broker: what a 202 promises is on the topic (the storefront API has
its own module, test_storefront_api.py)."""

from __future__ import annotations

import hashlib
import io
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition
from PIL import Image

from interarec.v1 import frames_pb2
from services.common.keys import session_key
from services.common.tenants import ApiKeys
from services.common.topics import FRAMES, session_partition
from services.gateway.app import GatewaySettings, create_app

pytestmark = pytest.mark.integration


def is_control(value: bytes) -> bool:
    frame = frames_pb2.Frame()
    frame.ParseFromString(value)
    return frame.control != frames_pb2.FRAME_CONTROL_NONE


def records_for(bootstrap: str, topic: str, key: bytes, timeout_s: float = 10.0) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=1000)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    found: dict[tuple[int, int], object] = {}
    deadline = time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        # screenshots only: a running summarizer (the e2e stack shares the broker) adds idle-timer control
        # records under the same session key
        found = {(r.partition, r.offset): r for r in consumer if r.key == key and not is_control(r.value)}
    consumer.close()
    return list(found.values())


def gateway(bootstrap: str, **limits) -> TestClient:
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=bootstrap,
                               api_keys=ApiKeys.from_plain({"k1": "acme", "k2": "globex"}),
                               max_upload_bytes=8 * 1024 * 1024, ack_timeout_s=5, **limits)
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


def test_the_kafka_python_producer_is_still_selectable(kafka_bootstrap):
    """INTERAREC_GATEWAY_PRODUCER=kafka-python (the other services' client, the fallback): the 202 names the
    partition and offset the broker holds the frame at, as with librdkafka (the test above)."""
    from services.common.kafka_producer import AsyncProducer
    from tests.support import values_at

    session = f"gw-kp-{uuid.uuid4().hex[:8]}"
    with gateway(kafka_bootstrap, producer="kafka-python") as client:
        assert isinstance(client.app.state.producer, AsyncProducer)
        assert wait_ready(client) == 200
        resp = client.post(f"/v1/sessions/{session}/frames", content=screenshot_png(),
                           headers={"X-API-Key": "k1", "Content-Type": "image/png", "X-Frame-Seq": "3"})
        assert resp.status_code == 202, resp.text
    body = resp.json()
    key = session_key("acme", session)
    assert body["partition"] == session_partition(key, FRAMES.partitions)
    (value,) = values_at(kafka_bootstrap, FRAMES.name, body["partition"], key.encode(), [body["offset"]])
    frame = frames_pb2.Frame()
    frame.ParseFromString(value)
    assert (frame.session_id, frame.frame_seq, frame.sha256) == (session, 3, hashlib.sha256(frame.image).hexdigest())


def test_unreachable_broker_gives_503_and_writes_nothing(kafka_broker_module):
    (closed_port,) = kafka_broker_module.free_ports(1)
    with gateway(f"127.0.0.1:{closed_port}") as client:
        assert client.get("/readyz").status_code == 503
        resp = client.post("/v1/sessions/s1/frames", content=screenshot_png(),
                           headers={"X-API-Key": "k1", "Content-Type": "image/png"})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "broker_unavailable"


def rate_limited(exposition: str) -> float:
    line = 'interarec_gateway_frames_total{outcome="rate_limited"} '
    return next((float(ln[len(line):]) for ln in exposition.splitlines() if ln.startswith(line)), 0.0)


def test_a_tenant_over_its_frame_rate_gets_429_and_the_others_keep_their_share(kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    frame = screenshot_png()

    def post(client: TestClient, key: str, session: str, seq: int):
        return client.post(f"/v1/sessions/{session}/frames", content=frame,
                           headers={"X-API-Key": key, "Content-Type": "image/png", "X-Frame-Seq": str(seq)})

    # one frame per 100 s on average, bursts of 2: the third frame in a row is over the limit
    with gateway(kafka_bootstrap, rate_per_s=0.01, rate_burst=2) as client:
        assert wait_ready(client) == 200
        before = rate_limited(client.get("/metrics").text)  # the counter is per process: other tests add to it
        flood = [post(client, "k1", f"flood-{run}-{i}", i) for i in range(4)]
        other = post(client, "k2", f"calm-{run}", 1)
        metrics = client.get("/metrics").text
    assert [r.status_code for r in flood] == [202, 202, 429, 429]
    assert flood[2].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(flood[2].headers["Retry-After"]) <= 100
    assert other.status_code == 202, other.text  # the other tenant's bucket is untouched
    assert rate_limited(metrics) == before + 2
    # a 429'd frame was never written: the client keeps it and retries after Retry-After
    assert records_for(kafka_bootstrap, FRAMES.name, session_key("acme", f"flood-{run}-2").encode(), 3) == []
    calm = records_for(kafka_bootstrap, FRAMES.name, session_key("globex", f"calm-{run}").encode())
    assert [(r.partition, r.offset) for r in calm] == [(other.json()["partition"], other.json()["offset"])]
