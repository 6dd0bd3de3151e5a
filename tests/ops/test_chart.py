"""Chart CI: helm lint and helm template with the default and the production values; every rendered object
valid against the Kubernetes OpenAPI schemas or its CRD; and the properties operators rely on (hardened pods,
GPU vLLM, topics identical to the code's specs, CRD-backed objects only when enabled)."""

from __future__ import annotations

import json

import pytest
import yaml

from services.common.topics import ALL_TOPICS, SESSION_KEYED
from services.ops import chart_topics
from tests.ops.chart_support import CHART, PRODUCTION_VALUES, by_kind, helm, pod_specs, render, validate_object

CRD_KINDS = {"KafkaTopic", "ScaledObject", "ServiceMonitor", "PrometheusRule"}
WORKERS = {"summarizer", "decomposer", "optimizer"}


def component_names(objects: list[dict], kind: str) -> set[str]:
    return {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in by_kind(objects, kind)}


@pytest.fixture(scope="module")
def default_objects() -> list[dict]:
    return render()


@pytest.fixture(scope="module")
def production_objects() -> list[dict]:
    return render(PRODUCTION_VALUES)


def test_helm_lint_default_and_production():
    helm("lint", "--strict", str(CHART))
    helm("lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES))


@pytest.mark.parametrize("objects_fixture", ["default_objects", "production_objects"])
def test_every_rendered_object_matches_its_schema(objects_fixture, request):
    objects = request.getfixturevalue(objects_fixture)
    assert len(objects) > 10
    for obj in objects:
        validate_object(obj)


def test_schema_check_catches_a_bad_field(production_objects):
    """The validation above is not a pass-through: a misspelt field fails, for built-in and custom kinds."""
    deployment = json.loads(json.dumps(by_kind(production_objects, "Deployment")[0]))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(AssertionError, match="readinessProbes"):
        validate_object(deployment)
    topic = json.loads(json.dumps(by_kind(production_objects, "KafkaTopic")[0]))
    topic["spec"]["partition"] = 4
    with pytest.raises(AssertionError, match="partition"):
        validate_object(topic)
    scaled = json.loads(json.dumps(by_kind(production_objects, "ScaledObject")[0]))
    del scaled["spec"]["triggers"]
    with pytest.raises(AssertionError, match="triggers"):
        validate_object(scaled)


def test_default_values_render_no_custom_resources(default_objects):
    kinds = {o["kind"] for o in default_objects}
    assert not kinds & CRD_KINDS
    assert {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"} <= kinds
    assert component_names(default_objects, "Deployment") == {"gateway", "storefront-api", "summarizer",
                                                              "decomposer", "optimizer"}


def test_production_renders_every_custom_resource(production_objects):
    kinds = {o["kind"] for o in production_objects}
    assert CRD_KINDS <= kinds
    deployments = component_names(production_objects, "Deployment")
    assert deployments == {"gateway", "storefront-api", "summarizer", "decomposer", "optimizer", "vllm"}
    assert component_names(production_objects, "ServiceMonitor") == deployments
    for sm in by_kind(production_objects, "ServiceMonitor"):
        assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Every Deployment has a PDB and a NetworkPolicy selecting exactly its pods.
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        selectors = [o["spec"].get("selector", o["spec"].get("podSelector"))["matchLabels"]
                     for o in by_kind(production_objects, kind)]
        for d in by_kind(production_objects, "Deployment"):
            assert d["spec"]["selector"]["matchLabels"] in selectors, (kind, d["metadata"]["name"])


def test_kafka_topics_are_the_code_specs(production_objects):
    topics = {o["spec"]["topicName"]: o for o in by_kind(production_objects, "KafkaTopic")}
    assert set(topics) == {s.name for s in ALL_TOPICS}
    for spec in ALL_TOPICS:
        topic = topics[spec.name]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "interarec"
        # session-keyed topics take the chart's kafka.partitions (production: 32), the dead-letter topics theirs
        assert topic["spec"]["partitions"] == (32 if spec in SESSION_KEYED else spec.partitions)
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"] == {**spec.configs(), "min.insync.replicas": "2"}


def test_chart_topic_file_has_not_drifted_from_the_code():
    assert chart_topics.main(["--check"]) == 0, "run: python -m services.ops.chart_topics"


def test_drift_check_fails_when_a_spec_changes(monkeypatch):
    grown = tuple(s if s.name != "interarec.frames.v1" else type(s)(s.name, s.partitions, 2 * s.retention_ms,
                                                                         s.cleanup_policy, s.max_message_bytes)
                  for s in ALL_TOPICS)
    monkeypatch.setattr(chart_topics, "ALL_TOPICS", grown)
    monkeypatch.setattr(chart_topics.render, "__defaults__", (grown,))
    assert chart_topics.main(["--check"]) == 1


def test_pods_are_hardened(production_objects):
    for name, spec in pod_specs(production_objects).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", (name, container["name"])
            assert "resources" in container and container["resources"].get("requests"), (name, container["name"])
        probes = spec["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in probes, (name, probe)


def test_vllm_runs_on_a_gpu_with_generous_startup(production_objects):
    vllm = next(d for d in by_kind(production_objects, "Deployment")
                if d["metadata"]["labels"]["app.kubernetes.io/name"] == "vllm")
    spec = vllm["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600  # model loading takes minutes
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    args = container["args"]
    assert '--limit-mm-per-prompt={"image":6}' in args
    assert "--tool-call-parser=hermes" in args and "--enable-auto-tool-choice" in args
    assert "--max-model-len=16384" in args
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    # Its clients are told where it is.
    summarizer = next(d for d in by_kind(production_objects, "Deployment")
                      if d["metadata"]["labels"]["app.kubernetes.io/name"] == "summarizer")
    env = {e["name"]: e.get("value") for e in summarizer["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["INTERAREC_LLM_BASE_URL"] == "http://shop-interarec-vllm:8000/v1"
    assert env["INTERAREC_LLM_MODEL"] == "interarec" and env["INTERAREC_LLM_MAX_IMAGES"] == "6"


def test_keda_scales_workers_on_lag_and_vllm_on_its_queue(production_objects):
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o for o in by_kind(production_objects, "ScaledObject")}
    assert set(scaled) == {f"shop-interarec-{w}" for w in WORKERS} | {"shop-interarec-vllm"}
    lag = scaled["shop-interarec-summarizer"]["spec"]
    assert lag["maxReplicaCount"] <= 4  # the frames topic's partitions
    query = lag["triggers"][0]["metadata"]["query"]
    assert "interarec_summarizer_consumer_lag_messages" in query and 'topic="interarec.frames.v1"' in query
    assert "vllm:num_requests_waiting" in scaled["shop-interarec-vllm"]["spec"]["triggers"][0]["metadata"]["query"]
    # KEDA owns the replica count of what it scales.
    for d in by_kind(production_objects, "Deployment"):
        if d["metadata"]["name"] in scaled:
            assert "replicas" not in d["spec"], d["metadata"]["name"]


def test_prometheus_rule_and_dashboards_ship_the_checked_files(production_objects):
    rule = by_kind(production_objects, "PrometheusRule")[0]
    source = yaml.safe_load((CHART / "files" / "prometheus" / "interarec-alerts.yaml").read_text())
    assert rule["spec"] == source
    boards = by_kind(production_objects, "ConfigMap")
    assert len(boards) == len(list((CHART / "files" / "dashboards").glob("*.json")))
    for cm in boards:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        (name, text), = cm["data"].items()
        assert json.loads(text) == json.loads((CHART / "files" / "dashboards" / name).read_text())


@pytest.mark.parametrize("bad_set, message", [
    ("components.gateway.kind=daemon", "kind"),
    ("vllm.containerSecurityContext.readOnlyRootFilesystem=false", "readOnlyRootFilesystem"),
    ("kafka.bootstrapServers=not a broker list", "bootstrapServers"),
    ("kafka.partitions=0", "partitions"),
    ("components.gateway.replicaz=2", "replicaz"),
])
def test_values_schema_rejects_bad_values(bad_set, message):
    result = render(sets=(bad_set,), check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_more_worker_replicas_than_partitions_is_refused():
    result = render(PRODUCTION_VALUES, sets=("components.summarizer.autoscaling.maxReplicas=40",), check=False)
    assert result.returncode != 0
    assert "exceeds the 32 partitions of interarec.frames.v1" in result.stderr


def test_one_partition_count_for_the_topics_and_every_process():
    """kafka.partitions sizes the session-keyed topics and is every pod's INTERAREC_KAFKA_PARTITIONS (the
    processes compute a session's partition with it), so the two cannot disagree."""
    objects = render(PRODUCTION_VALUES, sets=("kafka.partitions=64",))
    sizes = {o["spec"]["topicName"]: o["spec"]["partitions"] for o in by_kind(objects, "KafkaTopic")}
    assert {name: n for name, n in sizes.items() if n == 64} == {s.name: 64 for s in SESSION_KEYED}
    for name, spec in pod_specs(objects).items():
        for container in spec["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "INTERAREC_KAFKA_BOOTSTRAP_SERVERS" in env:
                assert env["INTERAREC_KAFKA_PARTITIONS"] == "64", name


def test_network_policies_open_only_what_is_needed(production_objects):
    policies = {o["metadata"]["labels"]["app.kubernetes.io/name"]: o["spec"]
                for o in by_kind(production_objects, "NetworkPolicy")}
    vllm_from = policies["vllm"]["ingress"][0]["from"]
    # Only the model's clients: the two workers, and the storefront (typed and image queries, production values).
    assert sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in vllm_from) == \
        ["decomposer", "storefront-api", "summarizer"]
    for worker in WORKERS:
        # Workers take no traffic but the metrics scrape (from the monitoring namespace) and the API server's
        # pod proxy (`interarec status`, from the control plane's addresses).
        scrape, proxy = policies[worker]["ingress"]
        assert scrape["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        assert proxy["from"] == [{"ipBlock": {"cidr": "10.0.0.0/28"}}]
        egress_ports = [p["port"] for r in policies[worker]["egress"] for p in r["ports"]]
        assert 9093 in egress_ports and 53 in egress_ports
    public = policies["gateway"]["ingress"][0]
    assert public["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
