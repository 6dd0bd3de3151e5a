"""Browser capture at the gateway against the real broker: a session token posts frames for its own session
from its tenant's origin; every other token or origin gets a clear 401/403 and nothing reaches the topic."""

from __future__ import annotations

import io
import time
import uuid

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition
from PIL import Image

from services.common.keys import session_key
from services.common.session_tokens import SessionTokens
from services.common.tenants import ApiKeys, TenantOrigins
from services.common.topics import FRAMES
from services.gateway.app import GatewaySettings, create_app
from tests.integration.test_http_services import wait_ready

pytestmark = pytest.mark.integration

SECRET = b"gateway-browser-token-secret-of-32+bytes"
SHOP = "https://shop.acme.example"
OTHER_SHOP = "https://shop.globex.example"


def gateway(bootstrap: str, **extra) -> TestClient:
    settings = GatewaySettings(
        host="127.0.0.1", port=0, bootstrap=bootstrap, api_keys=ApiKeys.from_plain({"k1": "acme", "k2": "globex"}),
        max_upload_bytes=8 * 1024 * 1024, ack_timeout_s=5, token_secret=SECRET,
        origins=TenantOrigins.parse(f"acme={SHOP},globex={OTHER_SHOP}"), **extra)
    return TestClient(create_app(settings))


def screenshot_png(n: int = 0) -> bytes:
    """A distinct frame per n (the gateway drops exact repeats)."""
    img = Image.new("RGB", (640, 400), "white")
    img.paste((200, 30, 30), (10 + 20 * n, 100, 200 + 20 * n, 300))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def keys_on_topic(bootstrap: str, prefix: str, wait_for: str, timeout_s: float = 15) -> set[str]:
    """Every frames-topic key starting with prefix, read until `wait_for` (posted last) shows up."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=1000)
    tps = [TopicPartition(FRAMES.name, p) for p in consumer.partitions_for_topic(FRAMES.name)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    keys: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while wait_for not in keys and time.monotonic() < deadline:
        keys |= {r.key.decode() for r in consumer if r.key and r.key.decode().startswith(prefix)}
    consumer.close()
    return keys


def post(client: TestClient, session: str, headers: dict) -> object:
    return client.post(f"/v1/sessions/{session}/frames", content=screenshot_png(),
                       headers={"Content-Type": "image/png", **headers})


def test_session_tokens_post_only_their_own_session_from_their_tenants_origin(kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    good, other = f"b{run}-good", f"b{run}-other"
    tokens = SessionTokens(SECRET, ttl_s=300)
    token, _ = tokens.mint("acme", good, time.time())
    expired, _ = SessionTokens(SECRET, ttl_s=60).mint("acme", f"b{run}-expired", time.time() - 120)
    forged, _ = SessionTokens(b"another-secret-of-at-least-32-bytes!!", 300).mint("acme", f"b{run}-forged",
                                                                                  time.time())
    head, payload, sig = tokens.mint("acme", f"b{run}-tampered", time.time())[0].split(".")
    tampered = ".".join([head, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), sig])
    rejected = {
        "another session": (other, {"Authorization": f"Bearer {token}", "Origin": SHOP}, 403),
        "expired": (f"b{run}-expired", {"Authorization": f"Bearer {expired}", "Origin": SHOP}, 401),
        "forged": (f"b{run}-forged", {"Authorization": f"Bearer {forged}", "Origin": SHOP}, 401),
        "tampered": (f"b{run}-tampered", {"Authorization": f"Bearer {tampered}", "Origin": SHOP}, 401),
        "missing": (f"b{run}-missing", {"Origin": SHOP}, 401),
        "wrong origin": (good, {"Authorization": f"Bearer {token}", "Origin": OTHER_SHOP}, 403),
        "api key from a page": (f"b{run}-keyed", {"X-API-Key": "k1", "Origin": SHOP}, 403),
    }
    with gateway(kafka_bootstrap) as client:
        assert wait_ready(client) == 200
        answers = {name: post(client, sid, headers) for name, (sid, headers, _) in rejected.items()}
        ok = post(client, good, {"Authorization": f"Bearer {token}", "Origin": SHOP})
        server_side = post(client, f"b{run}-server", {"X-API-Key": "k1"})  # the API key keeps working
    for name, (_, _, status) in rejected.items():
        resp = answers[name]
        assert resp.status_code == status, (name, resp.text)
        body = resp.json()["error"]
        assert body["code"] == ("unauthorized" if status == 401 else "forbidden") and body["message"], name
    assert "another session" in answers["another session"].json()["error"]["message"]
    assert "expired" in answers["expired"].json()["error"]["message"]
    assert ok.status_code == 202, ok.text
    assert ok.headers["access-control-allow-origin"] == SHOP  # the shop's page can read the answer
    assert server_side.status_code == 202, server_side.text
    # read the topic: only the good session's frame and the server-side one were written
    keys = keys_on_topic(kafka_bootstrap, f"acme/b{run}-", wait_for=session_key("acme", f"b{run}-server"))
    assert keys == {session_key("acme", good), session_key("acme", f"b{run}-server")}


def test_cors_preflight_only_for_configured_origins(kafka_bootstrap):
    with gateway(kafka_bootstrap) as client:
        ask = {"Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type,x-frame-seq"}
        ok = client.options("/v1/sessions/s1/frames", headers={"Origin": SHOP, **ask})
        evil = client.options("/v1/sessions/s1/frames", headers={"Origin": "https://evil.example", **ask})
        unauth = post(client, "s1", {"Origin": "https://evil.example"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    assert unauth.status_code == 401 and "access-control-allow-origin" not in unauth.headers


def test_one_token_over_its_rate_gets_429_while_another_session_of_the_tenant_posts(kafka_bootstrap):
    run = uuid.uuid4().hex[:8]
    tokens = SessionTokens(SECRET, ttl_s=300)
    busy, _ = tokens.mint("acme", f"r{run}-busy", time.time())
    calm, _ = tokens.mint("acme", f"r{run}-calm", time.time())
    with gateway(kafka_bootstrap, token_rate_per_s=0.01, token_rate_burst=2) as client:
        assert wait_ready(client) == 200
        flood = [client.post(f"/v1/sessions/r{run}-busy/frames", content=screenshot_png(i),
                             headers={"Content-Type": "image/png", "Authorization": f"Bearer {busy}",
                                      "Origin": SHOP}) for i in range(3)]
        other = post(client, f"r{run}-calm", {"Authorization": f"Bearer {calm}", "Origin": SHOP})
    assert [r.status_code for r in flood] == [202, 202, 429]
    assert "per-session" in flood[2].json()["error"]["message"]
    assert int(flood[2].headers["Retry-After"]) >= 1
    assert flood[2].headers["access-control-expose-headers"] == "Retry-After"  # the script can back off
    assert other.status_code == 202, other.text
