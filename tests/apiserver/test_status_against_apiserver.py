"""`interarec status` against a real Kubernetes API server: the Deployments and pods of a release as the API
serves them, every ready pod's /metrics read through the API server's pod proxy (two summarizer pods served
by real HTTP servers on this machine's address: the API server refuses to proxy to loopback), and the CLI's
verdict and exit code. `make test-apiserver` (see infra/kube-apiserver/README.md)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.apiserver

NAMESPACE, RELEASE = "shop", "shop"


def deployment(name: str, replicas: int) -> dict:
    labels = {"app.kubernetes.io/part-of": "interarec", "app.kubernetes.io/instance": RELEASE,
              "app.kubernetes.io/name": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{RELEASE}-interarec-{name}", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": f"interarec-{name}:test"}]}}}}


def host_address() -> str:
    """This machine's non-loopback address (no packet is sent: UDP connect only picks the route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))
        return s.getsockname()[0]


def lag_exposition(partitions: dict[int, int]) -> bytes:
    """What a summarizer pod exports: the real lag gauge's exposition, for the partitions it owns."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    gauge = Gauge("interarec_summarizer_consumer_lag_messages", "lag", ["topic", "partition"], registry=registry)
    for partition, lag in partitions.items():
        gauge.labels(topic="interarec.frames.v1", partition=str(partition)).set(lag)
    return generate_latest(registry)


@pytest.fixture(scope="module")
def pod_servers():
    """Two summarizer pods' /metrics: partitions 0-1 on one, 2-3 on the other (600 in all)."""
    servers = []
    for partitions in ({0: 100, 1: 200}, {2: 50, 3: 250}):
        body = lag_exposition(partitions)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self, body=body):
                self.send_response(200 if self.path == "/metrics" else 404)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer((host_address(), 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [(s.server_address[0], s.server_address[1]) for s in servers]
    for s in servers:
        s.shutdown()


@pytest.fixture(scope="module")
def release(kubeconfig, pod_servers):
    """A release as the cluster would report it: gateway 2/2 ready, summarizer 1/1 with 5 restarts,
    optimizer 0/1 ready, and an unrelated Deployment of another release."""
    from kubernetes import client, config

    config.load_kube_config(config_file=str(kubeconfig))
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    for name, replicas, ready in (("gateway", 2, 2), ("summarizer", 2, 2), ("optimizer", 1, 0)):
        body = deployment(name, replicas)
        apps.create_namespaced_deployment(NAMESPACE, body)
        # What the deployment controller would write.
        apps.patch_namespaced_deployment_status(body["metadata"]["name"], NAMESPACE, {"status": {
            "replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "updatedReplicas": replicas}})
        core.create_namespaced_service(NAMESPACE, {"metadata": {"name": body["metadata"]["name"]}, "spec": {
            "selector": body["spec"]["selector"]["matchLabels"], "ports": [{"name": "http", "port": 8500}]}})
        for i in range(replicas):
            ip, port = pod_servers[i] if name == "summarizer" else (host_address(), 1)
            spec = json.loads(json.dumps(body["spec"]["template"]["spec"]))
            spec["containers"][0]["ports"] = [{"name": "http", "containerPort": port}]
            pod = core.create_namespaced_pod(NAMESPACE, {"metadata": {"name": f"{name}-{i}", "labels":
                                                                       body["metadata"]["labels"]}, "spec": spec})
            # What the kubelet would write.
            core.patch_namespaced_pod_status(pod.metadata.name, NAMESPACE, {"status": {
                "podIP": ip, "podIPs": [{"ip": ip}],
                "conditions": [{"type": "Ready", "status": "True" if ready > i else "False"}],
                "containerStatuses": [{
                    "name": name, "image": f"interarec-{name}:test", "imageID": "", "ready": ready > i,
                    "restartCount": 5 if name == "summarizer" and i == 0 else 0, "state": {"running": {}}}]}})
    other = deployment("gateway", 1)
    other["metadata"]["name"] = "other-interarec-gateway"
    for labels in (other["metadata"]["labels"], other["spec"]["selector"]["matchLabels"],
                   other["spec"]["template"]["metadata"]["labels"]):
        labels["app.kubernetes.io/instance"] = "other"
    apps.create_namespaced_deployment(NAMESPACE, other)
    return kubeconfig


def test_status_reads_the_release_from_the_api_server(release, monkeypatch, capsys):
    from services.ops import cli

    monkeypatch.setenv("KUBECONFIG", str(release))
    code = cli.main(["status", "-n", NAMESPACE, "-r", RELEASE, "--json", "--timeout", "5"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["state"] == "down"
    by_name = {c["name"]: c for c in report["components"]}
    assert set(by_name) == {"gateway", "summarizer", "optimizer"}  # not the other release's gateway
    assert by_name["gateway"]["ready"] == "2/2"
    assert by_name["summarizer"]["restarts"] == 5
    assert by_name["summarizer"]["state"] == "degraded"
    assert "5 container restarts" in by_name["summarizer"]["notes"]
    assert by_name["optimizer"]["state"] == "down" and "no ready replica" in by_name["optimizer"]["notes"]
    # Both summarizer pods were read through the pod proxy: their partitions add up (one pod would show
    # 300 or 300, never 600), and the lag is over --max-lag 500.
    assert by_name["summarizer"]["lag"] == 600, by_name
    assert "consumer lag 600 > 500" in by_name["summarizer"]["notes"]
    # The gateway's pods point at a closed port: each failure is reported, not raised.
    assert any("metrics unreadable from 2 of 2 ready pod(s)" in n for n in by_name["gateway"]["notes"]), by_name


def test_status_of_an_unknown_release_is_down(release, monkeypatch, capsys):
    from services.ops import cli

    monkeypatch.setenv("KUBECONFIG", str(release))
    assert cli.main(["status", "-n", NAMESPACE, "-r", "nope"]) == 1
    assert "no InteraRec deployments found" in capsys.readouterr().out
