"""The gateway under overload, real server and real broker: fair admission (one tenant flooding within its
rate limit takes no more than its share of the frames in flight, so every frame of another tenant is
accepted meanwhile) and the back-pressure signal (while the pipeline's group lags on the frames topic,
frames get 429 `pipeline_behind` with Retry-After, which the capture client honours)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from PIL import Image

from infra.local.served import Served
from services.capture.frames import Frame, FrameUploader
from services.common.tenants import ApiKeys
from services.common.topics import FRAMES
from services.gateway.app import GatewaySettings, create_app

pytestmark = pytest.mark.integration


def jpeg(n: int) -> bytes:
    img = Image.new("RGB", (640, 400), "white")
    img.paste(((n * 37) % 256, (n * 91) % 256, 90), (10 + n % 500, 50, 120 + n % 500, 300))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


async def flood_and_trickle(url: str, run: str) -> tuple[Counter, list[int]]:
    """Tenant A posts from 16 connections without pause until tenant B has posted 12 frames, one at a time."""
    flood: Counter = Counter()
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=32)) as client:
        async def tenant_a(worker: int) -> None:
            n = 0
            while not done.is_set():
                n += 1
                resp = await client.post(f"/v1/sessions/a{run}-{worker}/frames", content=jpeg(1000 * worker + n),
                                         headers={"X-API-Key": "key-a", "Content-Type": "image/jpeg"})
                flood[(resp.status_code, resp.json().get("error", {}).get("code"))] += 1

        async def tenant_b() -> list[int]:
            await asyncio.sleep(0.5)  # A holds everything it may by then
            statuses = []
            for n in range(12):
                resp = await client.post(f"/v1/sessions/b{run}/frames", content=jpeg(n),
                                         headers={"X-API-Key": "key-b", "Content-Type": "image/jpeg"})
                statuses.append(resp.status_code)
            done.set()
            return statuses

        flooders = [asyncio.create_task(tenant_a(w)) for w in range(16)]
        trickle = await tenant_b()
        await asyncio.gather(*flooders)
    return flood, trickle


def test_a_tenant_flooding_within_its_rate_limit_cannot_starve_another(kafka_bootstrap):
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=kafka_bootstrap,
                               api_keys=ApiKeys.from_plain({"key-a": "tenant-a", "key-b": "tenant-b"}),
                               ack_timeout_s=10, max_in_flight=4, rate_per_s=10_000, rate_burst=10_000)
    with Served(create_app(settings), loop=settings.loop, http=settings.http) as served:  # as it runs
        url = served.url
        flood, trickle = asyncio.run(flood_and_trickle(url, uuid.uuid4().hex[:6]))
    assert flood[(429, "too_busy")] > 0, flood  # A did run into the bound: without a share B would meet it too
    assert flood[(202, None)] > 0 and flood[(429, "rate_limited")] == 0, flood  # A stayed within its rate limit
    assert trickle == [202] * 12, trickle


def keep_at_end(bootstrap: str, group: str, stop: threading.Event) -> None:
    """What a consumer group that keeps up does: commits every partition's end offset, again and again until
    `stop`. Once is not enough: the frames topic keeps growing meanwhile (the session's e2e stack, when it is up,
    reads the frames earlier tests wrote and queues idle ticks for those sessions onto the same topic), and a
    group that committed once and then stopped falls behind again by those."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    tps = [TopicPartition(FRAMES.name, p) for p in range(FRAMES.partitions)]
    consumer.assign(tps)
    try:
        while not stop.is_set():
            consumer.seek_to_end(*tps)
            consumer.commit({tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in tps})
            stop.wait(0.2)
    finally:
        consumer.close()


def test_a_pipeline_behind_gets_429_with_retry_after_which_the_capture_client_honours(kafka_bootstrap):
    group = f"lagging-{uuid.uuid4().hex[:6]}"  # never committed: every frame on the topic counts as lag
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for n in range(3):
        producer.send(FRAMES.name, key=f"t/lag-{n}".encode(), value=b"x")
    producer.flush()
    producer.close()
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=kafka_bootstrap,
                               api_keys=ApiKeys.from_plain({"key-a": "tenant-a"}), ack_timeout_s=10,
                               max_lag_messages=2, lag_group=group, lag_interval_s=0.3)
    app = create_app(settings)
    with Served(app, loop=settings.loop, http=settings.http) as served:
        url = served.url
        pipeline = app.state.ctx.pipeline
        deadline = time.monotonic() + 15
        while (pipeline.lag or 0) <= 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = httpx.post(f"{url}/v1/sessions/lag-s1/frames", content=b"\xff" * 5_000_000,
                             headers={"X-API-Key": "key-a", "Content-Type": "image/jpeg"})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "pipeline_behind", refused.text
        assert refused.headers["Retry-After"] == "1"  # the next lag reading (0.3 s), in whole seconds

        async def capture_while_the_pipeline_catches_up() -> tuple[bool, float, FrameUploader]:
            async with httpx.AsyncClient(timeout=10) as client:
                uploader = FrameUploader(client, url, "key-a", "lag-s2", retry_budget_s=20)
                started, stop = time.monotonic(), threading.Event()
                catch_up = asyncio.get_running_loop().run_in_executor(None, lambda: (
                    time.sleep(1.5), keep_at_end(kafka_bootstrap, group, stop)))
                try:
                    ok = await uploader.post(Frame(seq=1, capture_ms=int(time.time() * 1000),
                                                   url="https://shop/p/1", title="p", jpeg=jpeg(7)))
                finally:
                    stop.set()
                    await catch_up
                return ok, time.monotonic() - started, uploader

        ok, elapsed, uploader = asyncio.run(capture_while_the_pipeline_catches_up())
    assert ok and uploader.sent == 1 and len(uploader.accepted) == 1
    assert uploader.retried >= 1 and elapsed >= 1.5  # it waited (Retry-After) until the group caught up
