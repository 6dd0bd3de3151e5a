"""`interarec status`: a release's health from the Kubernetes API (Deployments, their pods' restarts) and from
the services themselves (consumer lag from /metrics, vLLM's /health), read through the API server's service
proxy, so it works from a laptop with a kubeconfig and no port-forward."""

from __future__ import annotations

from services.ops.health import ComponentReading

PART_OF = "app.kubernetes.io/part-of=interarec"


def load_client(kubeconfig: str | None = None, context: str | None = None):
    """The kubernetes ApiClient from the kubeconfig (the argument, else $KUBECONFIG, else ~/.kube/config),
    else the in-cluster service account."""
    import os

    from kubernetes import client, config

    # Read KUBECONFIG now: the kubernetes package reads it once, when it is first imported.
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        config.load_kube_config(config_file=path, context=context)
    except config.ConfigException:
        if kubeconfig or os.environ.get("KUBECONFIG"):
            raise  # the operator named a kubeconfig: do not silently use another identity
        config.load_incluster_config()
    return client.ApiClient()


def _service_get(core, namespace: str, service: str, path: str, timeout_s: float) -> str:
    return core.connect_get_namespaced_service_proxy_with_path(
        name=f"{service}:http", namespace=namespace, path=path, _request_timeout=timeout_s)


def read_release(api_client, namespace: str, release: str, timeout_s: float = 5.0) -> list[ComponentReading]:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    selector = f"{PART_OF},app.kubernetes.io/instance={release}"
    deployments = apps.list_namespaced_deployment(namespace, label_selector=selector).items
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    readings = []
    for d in deployments:
        component = (d.metadata.labels or {}).get("app.kubernetes.io/name", d.metadata.name)
        restarts = sum(cs.restart_count for p in pods
                       if (p.metadata.labels or {}).get("app.kubernetes.io/name") == component
                       for cs in (p.status.container_statuses or []))
        reading = ComponentReading(name=component, deployment=d.metadata.name, desired=d.spec.replicas or 0,
                                   ready=(d.status.ready_replicas or 0) if d.status else 0, restarts=restarts)
        if reading.ready:
            try:
                if component == "vllm":
                    _service_get(core, namespace, d.metadata.name, "health", timeout_s)
                    reading.health_ok = True
                else:
                    reading.metrics_text = _service_get(core, namespace, d.metadata.name, "metrics", timeout_s)
            except ApiException as exc:
                reading.error = f"{'health' if component == 'vllm' else 'metrics'} unreadable: HTTP {exc.status}"
                if component == "vllm":
                    reading.health_ok = False
            except Exception as exc:  # timeouts, refused connections: report, never crash the status
                reading.error = f"{'health' if component == 'vllm' else 'metrics'} unreadable: {exc}"
                if component == "vllm":
                    reading.health_ok = False
        readings.append(reading)
    return readings
