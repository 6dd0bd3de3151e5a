"""Kafka as Strimzi runs it: a broker with a SASL_SSL listener (TLS, certificates made here with openssl, and
SCRAM-SHA-512 logins) and an authorizer. Each service logs in as its own user holding exactly the ACLs of the
KafkaUser the chart renders for it, configured only through INTERAREC_KAFKA_* like the chart's pods, and a
session of real screenshots gets its recommendation; a wrong password and an untrusted CA are each refused at
start with one line naming the cause."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
)

from infra.kafka.broker import free_ports
from infra.local.stack import REPO_ROOT, Ports, Stack
from services.common import kafka_security
from services.common.topics import apply_topics
from tests.kafka_tls import KafkaTls, make_kafka_tls
from tests.ops.chart_support import PRODUCTION_VALUES, by_kind, render
from tests.support import latest, wait_for

pytestmark = pytest.mark.integration
SCREENS = REPO_ROOT / "tests" / "fixtures" / "screens"


@dataclass(frozen=True)
class SecuredKafka:
    bootstrap: str  # the SASL_SSL listener only
    tls: KafkaTls
    env: dict[str, str]  # what the chart sets on a pod: protocol, CA file, user, password file (a super user)
    service_env: dict[str, dict[str, str]]  # per component: its own KafkaUser's name and password file


def chart_kafka_users() -> dict[str, dict]:
    """component -> the KafkaUser the production values render for it."""
    return {u["metadata"]["labels"]["app.kubernetes.io/name"]: u for u in by_kind(render(PRODUCTION_VALUES),
                                                                                   "KafkaUser")}


def broker_acls(user: dict) -> list:
    """A KafkaUser's spec.authorization.acls as the broker's ACL bindings (what Strimzi's User Operator
    creates through the Admin API)."""
    out = []
    for rule in user["spec"]["authorization"]["acls"]:
        res = rule["resource"]
        pattern = ResourcePattern(ResourceType[res["type"].upper()], res.get("name", "kafka-cluster"),
                                  ACLResourcePatternType[{"prefix": "PREFIXED"}.get(res.get("patternType"), "LITERAL")])
        for op in rule["operations"]:
            operation = ACLOperation[{"IdempotentWrite": "IDEMPOTENT_WRITE"}.get(op, op.upper())]
            out.append(ACL(f"User:{user['metadata']['name']}", "*", operation, ACLPermissionType.ALLOW, pattern))
    return out


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, kafka_broker_module: ModuleType) -> Iterator[SecuredKafka]:
    """Its own broker: the session broker's consumer groups (an e2e stack may be running on it) must not take
    this test's partitions, or a frame could be handled by a plaintext worker and pass unnoticed."""
    kb = kafka_broker_module
    tls = make_kafka_tls(tmp_path_factory.mktemp("kafka-tls"))
    secrets_dir = tls.ca_file.parent

    def password_file(user: str, password: str) -> str:
        path = secrets_dir / f"{user}.password"
        path.write_text(password + "\n")  # as mounted from the KafkaUser's Secret
        return str(path)

    users = chart_kafka_users()
    passwords = {u["metadata"]["name"]: secrets.token_hex(12) for u in users.values()}
    port, controller_port, sasl_port = kb.free_ports(3)
    # tls.username is the operator's (super) user, for the topic tool and the dead-letter tool
    listener = kb.SaslSslListener(port=sasl_port, keystore=tls.keystore, keystore_password=tls.keystore_password,
                                  users={tls.username: tls.password, **passwords}, authorizer=True,
                                  super_users=(tls.username,))
    env = {"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INTERAREC_KAFKA_CA_FILE": str(tls.ca_file),
           "INTERAREC_KAFKA_SASL_USERNAME": tls.username,
           "INTERAREC_KAFKA_SASL_PASSWORD_FILE": password_file(tls.username, tls.password)}
    service_env = {component: {"INTERAREC_KAFKA_SASL_USERNAME": u["metadata"]["name"],
                               "INTERAREC_KAFKA_SASL_PASSWORD_FILE": password_file(u["metadata"]["name"],
                                                                                   passwords[u["metadata"]["name"]])}
                   for component, u in users.items()}
    with kb.started(tmp_path_factory.mktemp("kafka-sasl"), port=port, controller_port=controller_port,
                    sasl_ssl=listener) as broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)  # PLAINTEXT: ANONYMOUS is a super user
        try:
            result = admin.create_acls([acl for u in users.values() for acl in broker_acls(u)])
            assert not result["failed"], result["failed"]
        finally:
            admin.close()
        yield SecuredKafka(f"{broker.host}:{sasl_port}", tls, env, service_env)


def run_service(module: str, env: dict[str, str], tmp: Path, catalog_path: Path, *args: str,
                timeout_s: float = 120.0) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INTERAREC_")}
    full |= {"INTERAREC_VAR_DIR": str(tmp), "INTERAREC_CATALOG_PATH": str(catalog_path), "INTERAREC_DEMO_MODE": "1",
             **dict(zip(("INTERAREC_GATEWAY_PORT", "INTERAREC_DECOMPOSER_PORT"), map(str, free_ports(2)), strict=True)),
             **env}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)


def test_a_session_gets_its_recommendation_over_tls_and_scram(secured: SecuredKafka, catalog_path: Path,
                                                              kafka_broker_module: ModuleType, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in secured.env.items():
        monkeypatch.setenv(name, value)
    apply_topics(secured.bootstrap)  # the admin client over SASL_SSL as well
    stack = Stack(bootstrap=secured.bootstrap, catalog_path=catalog_path, log_dir=tmp_path / "logs",
                  var_dir=tmp_path / "var", ports=Ports(*kafka_broker_module.free_ports(6)),
                  extra_env={**secured.env, "INTERAREC_CONSUMER_LAG_INTERVAL_S": "1"}, service_env=secured.service_env)
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
        assert rec, f"no recommendation; optimizer log:\n{(tmp_path / 'logs' / 'optimizer.log').read_text()[-3000:]}"
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
    listed = run_service("services.common.deadletters", {**secured.env, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS":
                                                         secured.bootstrap}, tmp_path, catalog_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "dead letter(s)" in listed.stderr


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_wrong_password_is_refused_with_one_line(secured: SecuredKafka, catalog_path: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-" + secured.tls.password)
    env = {**secured.env, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": secured.bootstrap,
           "INTERAREC_KAFKA_SASL_PASSWORD_FILE": str(wrong)}
    for module, name in (("services.gateway", "gateway"), ("services.decomposer", "decomposer")):
        line = one_line_refusal(run_service(module, env, tmp_path, catalog_path))
        assert line.startswith(f"{name}: ") and "SASL SCRAM-SHA-512 login as 'interarec-test' refused" in line, line
        assert "invalid credentials" in line and secured.tls.password not in line, line


def test_an_untrusted_ca_is_refused_with_one_line(secured: SecuredKafka, catalog_path: Path, tmp_path: Path) -> None:
    env = {**secured.env, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": secured.bootstrap,
           "INTERAREC_KAFKA_CA_FILE": str(secured.tls.foreign_ca_file)}
    line = one_line_refusal(run_service("services.gateway", env, tmp_path, catalog_path))
    assert f"certificate not trusted by INTERAREC_KAFKA_CA_FILE={secured.tls.foreign_ca_file}" in line, line
    assert "(certificate verify failed: " in line, line
    line = one_line_refusal(run_service("services.common.deadletters", env, tmp_path, catalog_path, "list"))
    assert line.startswith("deadletters: TLS: ") and "not trusted" in line, line


def test_acls_are_enforced(secured: SecuredKafka) -> None:
    """The broker really authorizes (else the pipeline test above proves nothing about the ACLs): the
    decomposer's user may not write screenshots to the frames topic."""
    from kafka import KafkaProducer
    from kafka.errors import TopicAuthorizationFailedError

    decomposer = secured.service_env["decomposer"]
    security = kafka_security.KafkaSecurity(
        protocol="SASL_SSL", ca_file=secured.tls.ca_file, username=decomposer["INTERAREC_KAFKA_SASL_USERNAME"],
        password=Path(decomposer["INTERAREC_KAFKA_SASL_PASSWORD_FILE"]).read_text().strip())
    producer = KafkaProducer(bootstrap_servers=secured.bootstrap, max_block_ms=10_000,
                             **kafka_security.kafka_python_kwargs(security))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send("interarec.frames.v1", b"x").get(timeout=10)
    finally:
        producer.close(timeout=5)
