"""`interarec status`: a release's health from the Kubernetes API (Deployments, their pods' restarts) and from
the services themselves: every ready pod's /metrics (consumer lag) and vLLM's /health, read through the API
server's pod proxy, so it works from a laptop with a kubeconfig and no port-forward; or, with a Prometheus URL,
the lag as Prometheus scraped it from every pod."""

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


def _pod_ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])) if pod.status else False


def _http_port(pod) -> int | None:
    for container in pod.spec.containers:
        for port in container.ports or []:
            if port.name == "http":
                return port.container_port
    return None


def _pod_get(core, pod, path: str, timeout_s: float) -> str:
    """GET a path of one pod through the API server's pod proxy (needs the chart's networkPolicy.apiServerFrom)."""
    return core.connect_get_namespaced_pod_proxy_with_path(
        name=f"{pod.metadata.name}:{_http_port(pod)}", namespace=pod.metadata.namespace, path=path,
        _request_timeout=timeout_s)


def _read_pods(core, reading: ComponentReading, pods: list, timeout_s: float) -> None:
    """Every ready pod's /metrics (vLLM: /health), not one pod behind the Service: each worker reports only
    the partitions it owns."""
    from kubernetes.client.rest import ApiException

    path = "health" if reading.name == "vllm" else "metrics"
    failures = []
    for pod in pods:
        try:
            text = _pod_get(core, pod, path, timeout_s)
        except ApiException as exc:
            failures.append(f"{pod.metadata.name}: HTTP {exc.status}")
            continue
        except Exception as exc:  # timeouts, refused connections: report, never crash the status
            failures.append(f"{pod.metadata.name}: {exc}")
            continue
        if reading.name != "vllm":
            reading.pod_metrics[pod.metadata.name] = text
    if reading.name == "vllm":
        reading.health_ok = not failures
    if failures:
        reading.error = f"{path} unreadable from {len(failures)} of {len(pods)} ready pod(s): {'; '.join(failures)}"


def prometheus_partition_lag(prometheus_url: str, namespace: str, deployment: str, component: str,
                             timeout_s: float) -> dict[tuple[str, str], float]:
    """The lag per partition of a Deployment's pods as Prometheus scraped them (every pod, max per partition)."""
    import httpx

    query = (f'max by (topic, partition) (interarec_{component.replace("-", "_")}_consumer_lag_messages'
             f'{{namespace="{namespace}", pod=~"{deployment}-.+"}})')
    resp = httpx.get(prometheus_url.rstrip("/") + "/api/v1/query", params={"query": query}, timeout=timeout_s)
    resp.raise_for_status()
    body = resp.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {body.get('error')}")
    return {(r["metric"].get("topic", ""), r["metric"].get("partition", "")): float(r["value"][1])
            for r in body["data"]["result"]}


def read_release(api_client, namespace: str, release: str, timeout_s: float = 5.0,
                 prometheus_url: str | None = None) -> list[ComponentReading]:
    from kubernetes import client

    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    selector = f"{PART_OF},app.kubernetes.io/instance={release}"
    deployments = apps.list_namespaced_deployment(namespace, label_selector=selector).items
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    readings = []
    for d in deployments:
        component = (d.metadata.labels or {}).get("app.kubernetes.io/name", d.metadata.name)
        own = [p for p in pods if (p.metadata.labels or {}).get("app.kubernetes.io/name") == component]
        restarts = sum(cs.restart_count for p in own for cs in (p.status.container_statuses or []))
        reading = ComponentReading(name=component, deployment=d.metadata.name, desired=d.spec.replicas or 0,
                                   ready=(d.status.ready_replicas or 0) if d.status else 0, restarts=restarts)
        if reading.ready:
            if prometheus_url and component != "vllm":
                try:
                    reading.partition_lag = prometheus_partition_lag(prometheus_url, namespace, d.metadata.name,
                                                                     component, timeout_s)
                except Exception as exc:  # report, never crash the status
                    reading.error = f"Prometheus unreadable: {exc}"
            else:
                _read_pods(core, reading, [p for p in own if _pod_ready(p)], timeout_s)
        readings.append(reading)
    return readings
