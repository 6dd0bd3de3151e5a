"""The chart as a platform engineer would install it: each test is one defect found by reading what the pods
would do (issue 15), and fails on the chart as it was before its fix."""

from __future__ import annotations

import pytest

from infra.vllm_cpu.engine import SERVE_FLAGS
from tests.ops.chart_support import PRODUCTION_VALUES, REPO_ROOT, by_kind, pod_specs, render, validate_object

PRODUCTION_CLUSTER_NAMESPACE = "kafka"


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return render(PRODUCTION_VALUES)


def refused(*sets: str, values=(PRODUCTION_VALUES,)) -> str:
    result = render(*values, sets=sets, check=False)
    assert result.returncode != 0, f"helm template accepted {sets}"
    return result.stderr


def component(objects, kind, name):
    (obj,) = [o for o in by_kind(objects, kind) if o["metadata"]["labels"]["app.kubernetes.io/name"] == name]
    return obj


def container_env(deployment) -> dict[str, dict]:
    return {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_kafka_topics_go_to_the_namespace_the_topic_operator_watches(production):
    topics = by_kind(production, "KafkaTopic")
    assert topics and {t["metadata"].get("namespace") for t in topics} == {PRODUCTION_CLUSTER_NAMESPACE}
    # Without a broker namespace they stay in the release's.
    topics = by_kind(render(PRODUCTION_VALUES, sets=("kafka.brokerNamespace=",)), "KafkaTopic")
    assert {t["metadata"]["namespace"] for t in topics} == {"shop"}


def test_topic_replicas_below_min_insync_replicas_are_refused():
    assert "below min.insync.replicas" in refused("kafka.topics.replicas=1")


@pytest.mark.parametrize("sets, message", [
    (("components.gateway.apiKeysSecret.name=",), "apiKeysSecret"),
    (("components.storefront-api.tokenSecret.name=",), "tokenSecret"),
    (("image.tag=latest",), "image/tag"),
    (("vllm.image.tag=latest",), "vllm/image/tag"),
    (("podDisruptionBudget.maxUnavailable=0",), "maxUnavailable"),
    (("podDisruptionBudget.maxUnavailable=0%",), "maxUnavailable"),
])
def test_the_schema_refuses_values_that_cannot_work(sets, message):
    """demoMode false without the Secrets (the services refuse to start), a moving tag, a PDB that blocks
    every drain."""
    assert message in refused(*sets)


def test_demo_mode_still_runs_without_secrets():
    render(sets=("demoMode=true", "components.gateway.apiKeysSecret.name="))


def test_every_deployment_spreads_its_own_replicas_over_nodes(production):
    for name, spec in pod_specs(production).items():
        constraints = spec.get("topologySpreadConstraints", [])
        assert {c["topologyKey"] for c in constraints} >= {"kubernetes.io/hostname"}, name
        for c in constraints:
            assert c["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] in name, name


def test_the_schema_allows_per_component_spread_and_affinity():
    anti = ("components.gateway.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
            ".topologyKey=kubernetes.io/hostname")
    objects = render(PRODUCTION_VALUES, sets=(
        "components.gateway.topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
        "components.gateway.topologySpreadConstraints[0].maxSkew=1",
        "components.gateway.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
        anti, "vllm.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
              ".topologyKey=kubernetes.io/hostname"))
    gateway = component(objects, "Deployment", "gateway")["spec"]["template"]["spec"]
    assert [c["topologyKey"] for c in gateway["topologySpreadConstraints"]] == ["topology.kubernetes.io/zone"]
    assert "podAntiAffinity" in gateway["affinity"]
    assert "podAntiAffinity" in component(objects, "Deployment", "vllm")["spec"]["template"]["spec"]["affinity"]
    for obj in objects:
        validate_object(obj)


def test_vllm_replicas_share_a_read_write_many_cache(production):
    vllm = component(production, "Deployment", "vllm")["spec"]["template"]["spec"]
    (cache,) = [v for v in vllm["volumes"] if v["name"] == "cache"]
    claim = component(production, "PersistentVolumeClaim", "vllm")
    assert cache["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    # A claim of the operator's (access mode unknown) only while one replica can run.
    assert "ReadWriteOnce" in refused("vllm.cache.size=", "vllm.cache.existingClaim=mine")
    render(PRODUCTION_VALUES, sets=("vllm.cache.size=", "vllm.cache.existingClaim=mine",
                                    "vllm.autoscaling.enabled=false", "vllm.replicas=1"))


def test_vllm_requires_an_api_key_its_clients_send(production):
    vllm = container_env(component(production, "Deployment", "vllm"))
    secret = vllm["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]
    for name in ("summarizer", "decomposer", "storefront-api"):
        env = container_env(component(production, "Deployment", name))
        assert env["INTERAREC_LLM_API_KEY"]["valueFrom"]["secretKeyRef"] == secret, name
    assert "INTERAREC_LLM_API_KEY" not in container_env(component(production, "Deployment", "gateway"))


def test_vllm_enforces_tool_arguments_as_the_recorded_exchanges_did(production):
    args = component(production, "Deployment", "vllm")["spec"]["template"]["spec"]["containers"][0]["args"]
    recorded = SERVE_FLAGS[SERVE_FLAGS.index("--tool-strict-level") + 1]
    assert f"--tool-strict-level={recorded}" in args
    assert "--tool-strict-level" in (REPO_ROOT / "README.md").read_text()


def test_the_demo_shop_reaches_the_storefront():
    objects = render(PRODUCTION_VALUES, sets=("components.demo-shop.enabled=true",
                                              "components.demo-shop.storefrontPublicUrl=https://api.example.com",
                                              "components.demo-shop.shopApiKeySecret.name=shop-key"))
    storefront = component(objects, "Service", "storefront-api")
    env = container_env(component(objects, "Deployment", "demo-shop"))
    port = storefront["spec"]["ports"][0]["port"]
    assert env["INTERAREC_STOREFRONT_BACKEND_URL"]["value"] == f"http://{storefront['metadata']['name']}:{port}"
    assert env["INTERAREC_STOREFRONT_PUBLIC_URL"]["value"] == "https://api.example.com"
    # Without demo mode the shop needs its own tenant key to call the storefront API.
    assert env["INTERAREC_SHOP_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "shop-key", "key": "api-key"}
    shop_egress = component(objects, "NetworkPolicy", "demo-shop")["spec"]["egress"]
    assert any(peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "storefront-api"
               and rule["ports"] == [{"port": port, "protocol": "TCP"}]
               for rule in shop_egress for peer in rule.get("to", []))
    storefront_ingress = component(objects, "NetworkPolicy", "storefront-api")["spec"]["ingress"]
    assert any(peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "demo-shop"
               for rule in storefront_ingress for peer in rule.get("from", []))


def test_the_api_server_proxy_may_reach_every_pod(production):
    """`interarec status` reads each pod's /metrics (vLLM's /health) through the API server's pod proxy."""
    for policy in by_kind(production, "NetworkPolicy"):
        rules = policy["spec"]["ingress"]
        assert any(rule.get("from") == [{"ipBlock": {"cidr": "10.0.0.0/28"}}]
                   and rule["ports"] == [{"port": "http", "protocol": "TCP"}] for rule in rules), \
            policy["metadata"]["name"]


def test_autoscaling_does_not_rely_on_cooldown_above_zero(production):
    """KEDA's cooldownPeriod only applies to scaling to zero; above it the HPA's scale-down window decides."""
    scaled = by_kind(production, "ScaledObject")
    assert scaled
    for s in scaled:
        spec = s["spec"]
        if spec["minReplicaCount"] >= 1:
            assert "cooldownPeriod" not in spec, s["metadata"]["name"]
        window = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
        assert window["stabilizationWindowSeconds"] >= 300
    text = (REPO_ROOT / "charts" / "interarec" / "templates" / "scaledobject.yaml").read_text()
    assert "only to scaling" in text  # the comment says what KEDA does, not what it does not


def test_the_prometheus_rule_guards_only_enabled_components(production):
    def absent_guards(objects) -> set[str]:
        (rule,) = by_kind(objects, "PrometheusRule")
        return {r["labels"]["service"] for g in rule["spec"]["groups"] for r in g["rules"]
                if r.get("expr", "").startswith("absent(")}

    assert absent_guards(production) == {"gateway", "storefront-api", "summarizer", "decomposer", "optimizer",
                                         "vllm"}
    assert "vllm" not in absent_guards(render(PRODUCTION_VALUES, sets=("vllm.enabled=false",)))
