"""The broker-facing halves of the reliability contract, against the real broker:
- with Faust, `await topic.send()` only queues; `send_and_wait` returns after the broker acked, or raises;
- Consumer retries a transient failure in place and dead-letters a permanent one with reason and attempts;
- the dead-letter CLI lists and replays to the source topic with the replay headers;
- the gateway's readiness recovers without traffic, and decodes are bounded with 429 + Retry-After."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from types import SimpleNamespace

import faust
import pytest
from aiokafka.errors import KafkaError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from interarec.v1 import dead_letters_pb2
from services.common import deadletters
from services.common.messages import BadMessage
from services.common.retry import RetryPolicy
from services.common.tenants import ApiKeys
from services.common.topics import DEAD_LETTERS, FRAME_DEAD_LETTERS, FRAMES, SUMMARIES
from services.common.worker import Consumer, raw_topic, send_and_wait

pytestmark = pytest.mark.integration


def read_from(bootstrap: str, topic: str, start: dict[int, int] | None = None, timeout_s: float = 10.0) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=1500,
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, (start or {}).get(tp.partition, 0))
    records = list(consumer)
    consumer.close()
    return records


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    ends = {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    consumer.close()
    return ends


async def with_faust_producer(bootstrap: str, body):
    app = faust.App(f"test-{uuid.uuid4().hex[:6]}", broker=f"kafka://{bootstrap}", store="memory://",
                    producer_request_timeout=5.0, producer_max_request_size=8 * 1024 * 1024)
    await app.producer.start()
    try:
        return await body(app)
    finally:
        await app.producer.stop()


def test_send_and_wait_returns_the_ack_and_raises_when_the_broker_refuses(kafka_bootstrap):
    before = end_offsets(kafka_bootstrap, SUMMARIES.name)

    async def body(app):
        topic = raw_topic(app, SUMMARIES.name)
        (md,) = await send_and_wait([(topic, b"acme/s-ack", b"payload")])
        # larger than the topic's max.message.bytes: Faust's send() alone would return without error
        too_big = b"x" * (SUMMARIES.max_message_bytes + 1024)
        queued = await topic.send(key=b"acme/s-ack", value=too_big)
        with pytest.raises(KafkaError) as refused:
            await send_and_wait([(topic, b"acme/s-ack", too_big)])
        with pytest.raises(KafkaError):
            await queued  # the queued future carries the broker's refusal that send() did not report
        return md, refused.value

    md, refused = asyncio.run(with_faust_producer(kafka_bootstrap, body))
    assert md.topic == SUMMARIES.name and md.offset >= before[md.partition]
    assert "TooLarge" in type(refused).__name__
    values = [r.value for r in read_from(kafka_bootstrap, SUMMARIES.name, before) if r.key == b"acme/s-ack"]
    assert values == [b"payload"]


def event(topic: str, key: bytes, value: bytes, offset: int = 7, headers=None):
    return SimpleNamespace(key=key, value=value, headers=headers or [],
                           message=SimpleNamespace(topic=topic, partition=0, offset=offset))


def test_consumer_retries_transient_failures_and_dead_letters_permanent_ones(kafka_bootstrap):
    session = f"acme/dl-{uuid.uuid4().hex[:6]}"
    before = {t.name: end_offsets(kafka_bootstrap, t.name) for t in (DEAD_LETTERS, FRAME_DEAD_LETTERS)}
    calls: list[str] = []

    async def flaky(ev):
        calls.append("flaky")
        if len(calls) < 3:
            raise TimeoutError("broker blip")

    async def poison(ev):
        calls.append("poison")
        raise BadMessage("not a valid BehaviourSummary")

    async def always_down(ev):
        raise ConnectionResetError("still down")

    async def body(app):
        consumer = Consumer(app, f"test{uuid.uuid4().hex[:4]}", RetryPolicy(max_attempts=3, base_s=0.01, max_s=0.05))
        ok = await consumer.process(event(SUMMARIES.name, session.encode(), b"v1"), flaky)
        bad = await consumer.process(event(SUMMARIES.name, session.encode(), b"\xff\xff", offset=8), poison)
        frame = await consumer.process(event(FRAMES.name, session.encode(), b"img", offset=9,
                                             headers=deadletters.replay_headers(dead_letters_pb2.DeadLetter(
                                                 source_topic=FRAMES.name, offset=3))), always_down)
        return ok, bad, frame

    assert asyncio.run(with_faust_producer(kafka_bootstrap, body)) == ("ok", "dead_letter", "dead_letter")
    assert calls == ["flaky", "flaky", "flaky", "poison"]  # two retries, then success; poison: no retry

    def letters(topic):
        out = []
        for r in read_from(kafka_bootstrap, topic, before[topic]):
            dl = dead_letters_pb2.DeadLetter()
            dl.ParseFromString(r.value)
            if dl.session_id == session:
                out.append(dl)
        return out

    (summary_dl,) = letters(DEAD_LETTERS.name)
    assert (summary_dl.reason, summary_dl.attempts, summary_dl.source_topic, summary_dl.offset) == (
        "bad_message", 1, SUMMARIES.name, 8)
    assert summary_dl.value == b"\xff\xff" and "BehaviourSummary" in summary_dl.error_message
    # frames go to their own dead-letter topic (frames retention), after the bounded retries
    (frame_dl,) = letters(FRAME_DEAD_LETTERS.name)
    assert (frame_dl.reason, frame_dl.attempts, frame_dl.replays, frame_dl.value) == (
        "retries_exhausted", 3, 1, b"img")


def test_cli_lists_and_replays_dead_letters_to_their_source_topic(kafka_bootstrap, capsys):
    session = f"acme/cli-{uuid.uuid4().hex[:6]}"
    other = f"acme/cli-other-{uuid.uuid4().hex[:6]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for sid, stage in ((session, "decomposer"), (other, "decomposer"), (session, "optimizer")):
        dl = deadletters.dead_letter(source_topic=SUMMARIES.name, partition=1, offset=42, key=sid.encode(),
                                     value=f"summary of {sid} for {stage}".encode(), stage=stage,
                                     error=TimeoutError("no ack"), reason="retries_exhausted", attempts=8)
        producer.send(DEAD_LETTERS.name, key=sid.encode(), value=dl.SerializeToString())
    producer.flush()
    producer.close()

    assert deadletters.main(["list", "--bootstrap", kafka_bootstrap, "--session", session, "--json"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(listed) == 2 and all(session in line and "retries_exhausted" in line for line in listed)

    before = end_offsets(kafka_bootstrap, SUMMARIES.name)
    assert deadletters.main(["replay", "--bootstrap", kafka_bootstrap, "--session", session, "--stage",
                             "decomposer", "--since", "10m"]) == 0
    assert "1 dead letter(s) replayed" in capsys.readouterr().err
    replayed = [r for r in read_from(kafka_bootstrap, SUMMARIES.name, before) if r.key == session.encode()]
    assert [r.value for r in replayed] == [f"summary of {session} for decomposer".encode()]
    headers = dict(replayed[0].headers)
    assert deadletters.replay_of(replayed[0].headers) == (SUMMARIES.name, 1, 42)
    assert headers[deadletters.REPLAY_COUNT_HEADER] == b"1"


# ------------------------------------------------------------------------------------------------ gateway


def test_gateway_readiness_recovers_without_traffic_after_a_failed_send(kafka_bootstrap):
    from tests.integration.test_http_services import gateway, wait_ready

    with gateway(kafka_bootstrap) as client:
        assert wait_ready(client) == 200
        producer = client.app.state.producer
        producer._last_send_failed = True  # what a send that timed out during a broker blip leaves behind
        assert client.get("/readyz").status_code == 503
        # no request is sent: the background probe alone must bring readiness back
        assert wait_ready(client, timeout_s=10) == 200


def test_gateway_bounds_concurrent_decodes_with_429(kafka_bootstrap, monkeypatch):
    from fastapi.testclient import TestClient

    import services.gateway.frames as gateway_frames
    from services.gateway.app import GatewaySettings, create_app
    from tests.integration.test_http_services import screenshot_png, wait_ready

    release, entered = threading.Event(), threading.Event()
    real_reencode = gateway_frames.reencode

    def slow_reencode(body, content_type):
        entered.set()
        release.wait(10)
        return real_reencode(body, content_type)

    monkeypatch.setattr(gateway_frames, "reencode", slow_reencode)
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=kafka_bootstrap,
                               api_keys=ApiKeys.from_plain({"k1": "acme"}),
                               max_upload_bytes=8 * 1024 * 1024, ack_timeout_s=5, max_decodes=1)
    session = f"busy-{uuid.uuid4().hex[:6]}"
    headers = {"X-API-Key": "k1", "Content-Type": "image/png"}
    with TestClient(create_app(settings)) as client:
        assert wait_ready(client) == 200
        first: dict = {}
        t = threading.Thread(target=lambda: first.setdefault(
            "r", client.post(f"/v1/sessions/{session}/frames", content=screenshot_png(), headers=headers)))
        t.start()
        assert entered.wait(10)
        started = time.monotonic()
        busy = client.post(f"/v1/sessions/{session}-2/frames", content=screenshot_png(), headers=headers)
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert busy.json()["error"]["code"] == "too_busy" and time.monotonic() - started < 5
        assert client.get("/healthz").status_code == 200  # the event loop is not blocked meanwhile
        release.set()
        t.join(20)
        assert first["r"].status_code == 202
        again = client.post(f"/v1/sessions/{session}-2/frames", content=screenshot_png(), headers=headers)
        assert again.status_code == 202
