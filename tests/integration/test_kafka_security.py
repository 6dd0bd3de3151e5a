"""Kafka as Strimzi runs it: a broker with a SASL_SSL listener (TLS, certificates made here with openssl, and
SCRAM-SHA-512 logins) and an authorizer. Each service logs in as its own user holding exactly the ACLs of the
KafkaUser the chart renders for it, configured only through INTERAREC_KAFKA_* like the chart's pods, and a
session of real screenshots gets its recommendation; a wrong password and an untrusted CA are each refused at
start with one line naming the cause."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from infra.kafka.broker import free_ports
from infra.local.stack import REPO_ROOT, Ports, Stack
from services.common import kafka_security
from services.common.topics import apply_topics
from tests.secured_kafka import SecuredKafka
from tests.support import latest, wait_for

pytestmark = pytest.mark.integration
SCREENS = REPO_ROOT / "tests" / "fixtures" / "screens"


def run_service(module: str, env: dict[str, str], tmp: Path, catalog_path: Path, *args: str,
                timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INTERAREC_")}
    full |= {"INTERAREC_VAR_DIR": str(tmp), "INTERAREC_CATALOG_PATH": str(catalog_path), "INTERAREC_DEMO_MODE": "1",
             **dict(zip(("INTERAREC_GATEWAY_PORT", "INTERAREC_DECOMPOSER_PORT"), map(str, free_ports(2)), strict=True)),
             **env}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)


def problems(log_dir: Path, lines: int = 30) -> str:
    """The services' last warning and error lines (a missing ACL shows up as an authorization error)."""
    found = [f"{p.stem}: {line}" for p in sorted(log_dir.glob("*.log")) for line in p.read_text().splitlines()
             if '"level": "warning"' in line or '"level": "error"' in line]
    return "\n".join(found[-lines:])


def test_a_session_gets_its_recommendation_over_tls_and_scram(kafka_secured: SecuredKafka, catalog_path: Path,
                                                              kafka_broker_module: ModuleType, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in kafka_secured.env.items():
        monkeypatch.setenv(name, value)
    apply_topics(kafka_secured.bootstrap)  # the admin client over SASL_SSL as well
    stack = Stack(bootstrap=kafka_secured.bootstrap, catalog_path=catalog_path, log_dir=tmp_path / "logs",
                  var_dir=tmp_path / "var", ports=Ports(*kafka_broker_module.free_ports(6)),
                  extra_env={**kafka_secured.env, "INTERAREC_CONSUMER_LAG_INTERVAL_S": "1"},
                  service_env=kafka_secured.service_env)
    # Each reaches /readyz only with its Kafka clients connected, as its own user and under its ACLs: the
    # gateway's producer and probe, the storefront's reader, the workers' Faust consumers and producers and
    # the topics Faust creates, the optimizer's aiokafka follower.
    stack.start(timeout_s=240, only=("gateway", "storefront-api", "summarizer", "decomposer", "optimizer"))
    try:
        session = f"tls-{uuid.uuid4().hex[:8]}"
        frames = [f for f in json.loads((SCREENS / "manifest.json").read_text())["frames"]
                  if f["layout"] == "classic" and f["product_id"]][:3]
        now = int(time.time() * 1000)
        with httpx.Client(timeout=15.0, headers={"X-API-Key": stack.api_key, "Content-Type": "image/jpeg"}) as http:
            for seq, f in enumerate(frames, start=1):
                resp = http.post(f"{stack.gateway_url}/v1/sessions/{session}/frames",
                                 content=(SCREENS / f["file"]).read_bytes(),
                                 headers={"X-Frame-Seq": str(seq), "X-Capture-Time": str(now + seq),
                                          "X-Page-Url": f["url"]})
                assert resp.status_code == 202, resp.text  # acked (acks=all) by the broker over SASL_SSL
        rec = wait_for(lambda: latest(stack, session), timeout_s=180)
        assert rec, "no recommendation; warnings and errors:\n" + problems(tmp_path / "logs")
        assert rec["items"], rec
        viewed = {f["product_id"] for f in frames}
        assert viewed.isdisjoint(i["product_id"] for i in rec["items"])  # it understood what was viewed
        # each worker's lag reader (kafka-python admin + consumer, its group's offsets) works under its ACLs
        for worker, topic in (("summarizer", "frames"), ("decomposer", "summaries"), ("optimizer", "opt-requests")):
            port = stack.service(worker).port
            gauge = f'interarec_{worker}_consumer_lag_messages{{partition="0",topic="interarec.{topic}.v1"}}'
            assert wait_for(lambda p=port, g=gauge: g in httpx.get(f"http://127.0.0.1:{p}/metrics").text, 30), worker
        logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
        assert "consumer lag not refreshed" not in logs and "AuthorizationFailed" not in logs
    finally:
        stack.stop()
    # the operator's dead-letter tool over the same listener
    listed = run_service("services.common.deadletters", {**kafka_secured.env, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS":
                                                         kafka_secured.bootstrap}, tmp_path, catalog_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "dead letter(s)" in listed.stderr


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_wrong_password_is_refused_with_one_line(kafka_secured: SecuredKafka, catalog_path: Path,
                                                   tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-" + kafka_secured.tls.password)
    env = {**kafka_secured.env, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": kafka_secured.bootstrap,
           "INTERAREC_KAFKA_SASL_PASSWORD_FILE": str(wrong)}
    for module, name in (("services.gateway", "gateway"), ("services.decomposer", "decomposer")):
        line = one_line_refusal(run_service(module, env, tmp_path, catalog_path))
        assert line.startswith(f"{name}: ") and "SASL SCRAM-SHA-512 login as 'interarec-test' refused" in line, line
        assert "invalid credentials" in line and kafka_secured.tls.password not in line, line


def test_an_untrusted_ca_is_refused_with_one_line(kafka_secured: SecuredKafka, catalog_path: Path,
                                                  tmp_path: Path) -> None:
    env = {**kafka_secured.env, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": kafka_secured.bootstrap,
           "INTERAREC_KAFKA_CA_FILE": str(kafka_secured.tls.foreign_ca_file)}
    line = one_line_refusal(run_service("services.gateway", env, tmp_path, catalog_path))
    assert f"certificate not trusted by INTERAREC_KAFKA_CA_FILE={kafka_secured.tls.foreign_ca_file}" in line, line
    assert "(certificate verify failed: " in line, line
    line = one_line_refusal(run_service("services.common.deadletters", env, tmp_path, catalog_path, "list"))
    assert line.startswith("deadletters: TLS: ") and "not trusted" in line, line


def test_acls_are_enforced(kafka_secured: SecuredKafka) -> None:
    """The broker really authorizes (else the pipeline test above proves nothing about the ACLs): the
    decomposer's user may not write screenshots to the frames topic."""
    from kafka import KafkaProducer
    from kafka.errors import TopicAuthorizationFailedError

    decomposer = kafka_secured.service_env["decomposer"]
    security = kafka_security.KafkaSecurity(
        protocol="SASL_SSL", ca_file=kafka_secured.tls.ca_file, username=decomposer["INTERAREC_KAFKA_SASL_USERNAME"],
        password=Path(decomposer["INTERAREC_KAFKA_SASL_PASSWORD_FILE"]).read_text().strip())
    producer = KafkaProducer(bootstrap_servers=kafka_secured.bootstrap, max_block_ms=10_000,
                             **kafka_security.kafka_python_kwargs(security))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send("interarec.frames.v1", b"x").get(timeout=10)
    finally:
        producer.close(timeout=5)


def test_host_names_are_verified_unless_turned_off(kafka_secured: SecuredKafka) -> None:
    """The broker's certificate names 127.0.0.1 and localhost; reached at 127.0.0.2 it must be refused, unless
    INTERAREC_KAFKA_SSL_CHECK_HOSTNAME=false (then the CA check alone applies, and the login succeeds)."""
    operator = dict(protocol="SASL_SSL", ca_file=kafka_secured.tls.ca_file, username=kafka_secured.tls.username,
                    password=kafka_secured.tls.password)
    with pytest.raises(kafka_security.KafkaSecurityError, match="certificate verify failed: IP address mismatch"):
        kafka_security.preflight(kafka_secured.alias_bootstrap, kafka_security.KafkaSecurity(**operator))
    kafka_security.preflight(kafka_secured.alias_bootstrap,
                             kafka_security.KafkaSecurity(**operator, check_hostname=False))


def test_the_gateways_librdkafka_producer_logs_in_as_its_user_and_verifies_host_names(
        kafka_secured: SecuredKafka, caplog: pytest.LogCaptureFixture) -> None:
    """The gateway's producer (librdkafka) configured from the same settings: as the gateway's KafkaUser, under its
    ACLs (Write on the frames topic, IdempotentWrite), a frame is acknowledged; at 127.0.0.2, which the broker's
    certificate does not name, it never connects (no frame leaves) unless host-name checks are turned off."""
    import asyncio

    from services.common.delivery import BrokerUnavailable
    from services.common.rdkafka_producer import RdAsyncProducer
    from services.common.topics import FRAMES

    gateway = kafka_secured.service_env["gateway"]
    user = dict(protocol="SASL_SSL", ca_file=kafka_secured.tls.ca_file,
                username=gateway["INTERAREC_KAFKA_SASL_USERNAME"],
                password=Path(gateway["INTERAREC_KAFKA_SASL_PASSWORD_FILE"]).read_text().strip())

    def attempt(bootstrap: str, check_hostname: bool) -> tuple[bool, object]:
        caplog.clear()
        producer = RdAsyncProducer(bootstrap, "test-rd-tls", probe_topic=FRAMES.name, probe_interval_s=0.5,
                                   security=kafka_security.KafkaSecurity(**user, check_hostname=check_hostname))
        producer.start()
        try:
            deadline = time.monotonic() + 15
            while not producer.ready and time.monotonic() < deadline and "certificate verify failed" not in caplog.text:
                time.sleep(0.1)

            async def send():
                try:
                    return await producer.send(FRAMES.name, b"tls/s", b"frame", timeout_s=15)
                except BrokerUnavailable as exc:
                    return exc

            return producer.ready, asyncio.run(send())
        finally:
            producer.close(timeout_s=5)

    ready, sent = attempt(kafka_secured.bootstrap, True)
    assert ready and sent.topic == FRAMES.name and sent.offset >= 0, sent
    caplog.set_level("WARNING", logger="interarec.kafka")
    ready, sent = attempt(kafka_secured.alias_bootstrap, True)
    assert not ready and isinstance(sent, BrokerUnavailable), sent
    assert "certificate verify failed" in caplog.text and user["password"] not in caplog.text
    ready, sent = attempt(kafka_secured.alias_bootstrap, False)
    assert ready and sent.offset >= 0, sent


def test_a_frame_the_broker_refuses_is_a_503_in_the_envelope(kafka_secured: SecuredKafka,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway logged in as a user without Write on the frames topic (the decomposer's): librdkafka's delivery
    error comes back as 503 `broker_unavailable` with Retry-After, as kafka-python's errors did, never a 5xx of
    another kind, and the frame's bytes are not in the answer."""
    from fastapi.testclient import TestClient

    from services.common.tenants import ApiKeys
    from services.gateway.app import GatewaySettings, create_app

    decomposer = kafka_secured.service_env["decomposer"]
    for name, value in {**kafka_secured.env, **decomposer}.items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=kafka_secured.bootstrap,
                               api_keys=ApiKeys.from_plain({"k1": "acme"}), ack_timeout_s=10)
    frame = (SCREENS / "manifest.json").parent.joinpath(
        json.loads((SCREENS / "manifest.json").read_text())["frames"][0]["file"]).read_bytes()
    with TestClient(create_app(settings)) as client:
        assert wait_for(lambda: client.app.state.producer._connected, timeout_s=15)
        resp = client.post("/v1/sessions/denied-1/frames", content=frame,
                           headers={"X-API-Key": "k1", "Content-Type": "image/jpeg"})
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "broker_unavailable" and resp.headers["Retry-After"] == "2"
    assert "TOPIC_AUTHORIZATION_FAILED" in resp.json()["error"]["message"]
