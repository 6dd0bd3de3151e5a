"""The chart's production render applied server-side to a real kube-apiserver with the CRDs installed (Strimzi,
KEDA, Prometheus Operator): every object is accepted as the cluster would accept it (built-in validation, the
CRDs' structural schemas, strict field validation), and `interarec status` then reads the release."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.ops.chart_support import CRD_DIR, PRODUCTION_VALUES, render

pytestmark = pytest.mark.apiserver

NAMESPACE, RELEASE = "prod", "prod"
CUSTOM_KINDS = (("kafka.strimzi.io/v1", "KafkaTopic"), ("kafka.strimzi.io/v1", "KafkaUser"),
                ("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "PrometheusRule"))


@pytest.fixture(scope="module")
def applied(kubeconfig):
    from kubernetes import client, config, dynamic

    config.load_kube_config(config_file=str(kubeconfig))
    api = client.ApiClient()
    dyn = dynamic.DynamicClient(api)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        crds.server_side_apply(body=crd, name=crd["metadata"]["name"], field_manager="interarec-test")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the CRDs' APIs appear once they are Established
        dyn = dynamic.DynamicClient(client.ApiClient())
        try:
            for api_version, kind in CUSTOM_KINDS:
                dyn.resources.get(api_version=api_version, kind=kind)
            break
        except Exception:
            time.sleep(1)
    core = client.CoreV1Api(api)
    objects = render(PRODUCTION_VALUES, release=RELEASE, namespace=NAMESPACE)
    namespaces = {NAMESPACE} | {o["metadata"].get("namespace") for o in objects if o["metadata"].get("namespace")}
    for ns in sorted(namespaces):
        core.create_namespace({"metadata": {"name": ns}})
    results = []
    for obj in objects:
        resource = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        ns = obj["metadata"].get("namespace", NAMESPACE) if resource.namespaced else None
        resource.server_side_apply(body=obj, name=obj["metadata"]["name"], namespace=ns,
                                   field_manager="helm", query_params=[("fieldValidation", "Strict")])
        results.append(f"{obj['kind']}/{obj['metadata']['name']} ({ns or 'cluster'})")
    print("applied server-side:\n  " + "\n  ".join(results))
    return kubeconfig, objects


def test_every_production_object_is_accepted(applied):
    _, objects = applied
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget", "KafkaTopic", "KafkaUser",
            "ScaledObject", "ServiceMonitor", "PrometheusRule", "PersistentVolumeClaim"} <= kinds


def test_status_reads_the_applied_release(applied, monkeypatch, capsys):
    from services.ops import cli

    kubeconfig, objects = applied
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    code = cli.main(["status", "-n", NAMESPACE, "-r", RELEASE, "--timeout", "5"])
    text = capsys.readouterr().out
    assert code == 1  # no kubelet: nothing is ready
    code = cli.main(["status", "-n", NAMESPACE, "-r", RELEASE, "--json"])
    report = json.loads(capsys.readouterr().out)
    with capsys.disabled():
        print(f"\n$ interarec status -n {NAMESPACE} -r {RELEASE}   (exit 1)\n{text}")
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert {c["deployment"] for c in report["components"]} == deployments
    assert all(c["state"] == "down" for c in report["components"])
