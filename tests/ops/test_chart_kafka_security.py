"""The chart's Kafka security (values kafka.security): one Strimzi KafkaUser per Kafka-using component, and
pods whose env, read by the services' own settings code, is valid TLS + SCRAM with the user's Secret."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from services.common import kafka_security
from services.common.topics import ALL_TOPICS
from tests.ops.chart_support import CHART, PRODUCTION_VALUES, by_kind, pod_specs, render

ACCESS = yaml.safe_load((CHART / "files" / "kafka-users.yaml").read_text())
PRODUCTION = yaml.safe_load(PRODUCTION_VALUES.read_text())


@pytest.fixture(scope="module")
def production_objects() -> list[dict]:
    return render(PRODUCTION_VALUES)


def deployments(objects: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["labels"]["app.kubernetes.io/name"]: d for d in by_kind(objects, "Deployment")}


def container_env(deployment: dict) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_production_has_a_scram_user_per_kafka_component_in_the_kafka_namespace(production_objects):
    users = {u["metadata"]["labels"]["app.kubernetes.io/name"]: u for u in by_kind(production_objects, "KafkaUser")}
    kafka_components = set(deployments(production_objects)) & set(ACCESS)
    assert set(users) == kafka_components == {"gateway", "storefront-api", "summarizer", "decomposer", "optimizer"}
    for name, user in users.items():
        # Strimzi's User Operator watches the Kafka cluster's namespace only, like the Topic Operator
        assert user["metadata"]["namespace"] == "kafka"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "interarec"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert user["spec"]["authorization"]["type"] == "simple"
        env = container_env(deployments(production_objects)[name])
        assert env["INTERAREC_KAFKA_SASL_USERNAME"] == user["metadata"]["name"]  # Strimzi: user name = resource


def test_workers_get_their_group_and_faust_topics_and_read_what_they_consume(production_objects):
    users = {u["metadata"]["labels"]["app.kubernetes.io/name"]: u for u in by_kind(production_objects, "KafkaUser")}
    for name in deployments(production_objects):
        if name not in ACCESS or not ACCESS[name].get("faust"):
            continue
        acls = users[name]["spec"]["authorization"]["acls"]
        granted = {(a["resource"]["type"], a["resource"].get("name"), a["resource"].get("patternType"), op)
                   for a in acls for op in a["operations"]}
        assert ("group", f"interarec-{name}", "literal", "Read") in granted  # Faust's group id is its app id
        assert ("topic", f"interarec-{name}-", "prefix", "Create") in granted  # changelogs, leader topic
        consumes = PRODUCTION["components"][name]["consumes"]  # the topic its lag (and KEDA) is measured on
        assert ("topic", consumes, "literal", "Read") in granted
        # never more than it needs: no wildcard, no All, no cluster-wide rights for a worker
        assert all(a["resource"].get("name") != "*" and "All" not in a["operations"] for a in acls)
        assert not any(a["resource"]["type"] == "cluster" for a in acls)


def test_access_file_names_only_real_topics():
    names = {t.name for t in ALL_TOPICS}
    for component, access in ACCESS.items():
        for topic in access.get("read", []) + access.get("write", []):
            assert topic in names, f"{component}: {topic} is not in services/common/topics.py"


def test_rendered_pod_env_is_valid_for_the_services_settings(production_objects, tmp_path, monkeypatch):
    """What the chart mounts and sets is what services/common/kafka_security.py reads: materialise the Secrets
    at their mount paths (under tmp) and let the services' own start-up validation read the env."""
    ca = tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
                    "-keyout", str(tmp_path / "ca.key"), "-out", str(ca)], check=True, capture_output=True)
    for name, d in deployments(production_objects).items():
        if name not in ACCESS:
            continue
        spec = d["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
        files: dict[str, str] = {}
        for path, m in mounts.items():
            secret = volumes[m["name"]].get("secret")
            if secret is None:
                continue
            for item in secret["items"]:
                files[f"{path}/{item['path']}"] = secret["secretName"]
        env = container_env(d)
        assert files[env["INTERAREC_KAFKA_CA_FILE"]] == "interarec-cluster-ca-cert"
        assert files[env["INTERAREC_KAFKA_SASL_PASSWORD_FILE"]] == env["INTERAREC_KAFKA_SASL_USERNAME"]
        root = tmp_path / name
        for path in files:
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(ca.read_bytes() if path == env["INTERAREC_KAFKA_CA_FILE"] else b"pw\n")
        for key, value in env.items():
            if key.startswith("INTERAREC_KAFKA_"):
                monkeypatch.setenv(key, str(root / value.lstrip("/")) if value in files else value)
        security = kafka_security.from_env()
        assert (security.protocol, security.mechanism, security.password) == ("SASL_SSL", "SCRAM-SHA-512", "pw")
        assert security.check_hostname and security.ca_file == root / env["INTERAREC_KAFKA_CA_FILE"].lstrip("/")


def test_off_by_default_and_no_credentials_for_the_demo_shop():
    objects = render(sets=("components.demo-shop.enabled=true",))
    assert not by_kind(objects, "KafkaUser")
    for spec in pod_specs(objects).values():
        names = {e["name"] for c in spec["containers"] for e in c.get("env", [])}
        assert not {n for n in names if n.startswith("INTERAREC_KAFKA_S")}
    on = render(PRODUCTION_VALUES, sets=("components.demo-shop.enabled=true",))
    shop = deployments(on)["demo-shop"]
    assert "INTERAREC_KAFKA_SECURITY_PROTOCOL" not in container_env(shop)
    assert "demo-shop" not in {u["metadata"]["labels"]["app.kubernetes.io/name"] for u in by_kind(on, "KafkaUser")}


def test_tls_only_mounts_no_password():
    objects = render(PRODUCTION_VALUES, sets=("kafka.security.protocol=SSL",))
    for name, d in deployments(objects).items():
        if name in ACCESS:
            env = container_env(d)
            assert env["INTERAREC_KAFKA_SECURITY_PROTOCOL"] == "SSL" and "INTERAREC_KAFKA_SASL_USERNAME" not in env
            assert "kafka-user" not in {v["name"] for v in d["spec"]["template"]["spec"]["volumes"]}


@pytest.mark.parametrize(("bad_set", "message"), [
    ("kafka.security.protocol=PLAINTEXT", "protocol"),
    ("kafka.security.caSecret.name=", "name"),
    ("kafka.security.users.namespace=1", "namespace"),
])
def test_values_schema_rejects_bad_security_values(bad_set: str, message: str) -> None:
    result = render(PRODUCTION_VALUES, sets=(bad_set,), check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr

