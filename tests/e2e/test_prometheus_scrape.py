"""A real Prometheus (Debian's) scrapes the running services of the end-to-end stack, with the chart's alert and
recording rules loaded: the key series exist with sane values, and every metric a dashboard or rule reads is
one the services really export (or vLLM, per its recorded exposition)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from kafka import KafkaProducer

from interarec.v1 import summaries_pb2
from services.common.catalog import Catalog
from services.common.keys import session_key
from services.common.topics import SUMMARIES
from tests.ops.promql_names import dashboard_queries, exported_names, metric_names
from tests.support import wait_for

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "charts" / "interarec" / "files" / "prometheus" / "interarec-alerts.yaml"
DASHBOARDS = REPO_ROOT / "charts" / "interarec" / "files" / "dashboards"
VLLM_METRICS = REPO_ROOT / "tests" / "ops" / "fixtures" / "vllm-0.32.0-metrics.txt"


def service_ports(stack) -> dict[str, int]:
    p = stack.ports
    return {"gateway": p.gateway, "storefront-api": p.storefront, "summarizer": p.summarizer,
            "decomposer": p.decomposer, "optimizer": p.optimizer, "demo-shop": p.shop}


@pytest.fixture(scope="module")
def prometheus(stack, kafka_broker_module, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: run `make setup` (installs Debian's prometheus package)")
    work = tmp_path_factory.mktemp("prometheus")
    (port,) = kafka_broker_module.free_ports(1)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{
            "job_name": "interarec",
            # As the chart's ServiceMonitors do: `service` is the component name.
            "static_configs": [{"targets": [f"127.0.0.1:{port_}"], "labels": {"service": name}}
                               for name, port_ in service_ports(stack).items()],
        }],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}",
                             f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None  # stop waiting: it exited

    wait_for(ready, timeout_s=60)
    if proc.poll() is not None:
        pytest.fail(f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


def query(url: str, promql: str) -> list[dict]:
    resp = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def value(url: str, promql: str) -> float | None:
    result = query(url, promql)
    return float(result[0]["value"][1]) if result else None


def send_summary(stack, catalog_path) -> str:
    """One behaviour summary straight onto its topic, captured 1.5 s ago: decomposer and optimizer turn it
    into a recommendation and the optimizer observes its end-to-end latency."""
    catalog = Catalog.load(catalog_path)
    product = catalog.products[0]
    session = f"prom-{uuid.uuid4().hex[:8]}"
    summary = summaries_pb2.BehaviourSummary(session_id=session, tenant="demo", window_seq=1, backend="embedded",
                                             narrative="prometheus scrape test", frames_in_window=1,
                                             window_close_reason="idle")
    summary.viewed_products.add(product_id=product.product_id, title=product.title, brand=product.brand,
                                category=product.category, colour=product.colour, price=product.price,
                                frames=1, confidence=1.0)
    summary.trace.capture_unix_ms = int(time.time() * 1000) - 1500
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap)
    producer.send(SUMMARIES.name, key=session_key("demo", session).encode(), value=summary.SerializeToString())
    producer.flush()
    producer.close()
    return session


def test_prometheus_scrapes_the_key_series_with_sane_values(stack, prometheus, catalog_path):
    import io

    from PIL import Image

    before = value(prometheus, "sum(interarec_optimizer_end_to_end_latency_seconds_count)") or 0
    for i in range(3):
        png = io.BytesIO()
        Image.new("RGB", (320, 200), (40 * i, 90, 200)).save(png, format="PNG")
        resp = httpx.post(f"{stack.gateway_url}/v1/sessions/prom-frames/frames", content=png.getvalue(),
                          headers={"X-API-Key": stack.api_key, "Content-Type": "image/png"}, timeout=30)
        assert resp.status_code in (200, 202), resp.text
    send_summary(stack, catalog_path)

    services = set(service_ports(stack))
    up = wait_for(lambda: (r := query(prometheus, "up == 1")) and {s["metric"]["service"] for s in r} >= services
                  and r, timeout_s=60)
    assert up, f"not every service is up in Prometheus: {query(prometheus, 'up')}"

    accepted = wait_for(lambda: value(prometheus, 'sum(interarec_gateway_frames_total{outcome="accepted"})'),
                        timeout_s=60)
    assert accepted and accepted >= 1

    count = wait_for(lambda: (v := value(prometheus, "sum(interarec_optimizer_end_to_end_latency_seconds_count)"))
                     and v > before and v, timeout_s=120)
    assert count, "no end-to-end latency observed after a summary went through decomposer and optimizer"
    mean = value(prometheus, "sum(interarec_optimizer_end_to_end_latency_seconds_sum)"
                             " / sum(interarec_optimizer_end_to_end_latency_seconds_count)")
    assert 0 < mean < 300, mean

    # Consumer lag: every worker reports its input partitions, and once it has caught up the lag is 0.
    for worker, topics in (("summarizer", {"interarec.frames.v1"}), ("decomposer", {"interarec.summaries.v1"}),
                           ("optimizer", {"interarec.opt-requests.v1", "interarec.feedback.v1"})):
        series = wait_for(lambda w=worker: query(prometheus, f"interarec_{w}_consumer_lag_messages"), timeout_s=60)
        assert series, f"{worker} exports no consumer lag"
        assert {s["metric"]["topic"] for s in series} == topics
        assert all(float(s["value"][1]) >= 0 for s in series)
        caught_up = wait_for(lambda w=worker: value(prometheus, f"sum(interarec_{w}_consumer_lag_messages)") == 0,
                             timeout_s=90)
        last = query(prometheus, f"interarec_{worker}_consumer_lag_messages")
        assert caught_up, f"{worker} lag never reached 0: {last}"
    # The chart's recording rules evaluate in a real Prometheus on the real series.
    # A rule evaluation can see some targets' newest scrape before others': wait for all three consumers.
    workers = {"summarizer", "decomposer", "optimizer"}

    def consumers() -> set[str]:
        return {s["metric"]["consumer"] for s in query(prometheus, "interarec:consumer_lag_messages")}

    wait_for(lambda: consumers() == workers, timeout_s=60)
    assert consumers() == workers
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert all(r["health"] == "ok" for g in rules for r in g["rules"]), json.dumps(rules)[:2000]
    assert value(prometheus, 'min(process_resident_memory_bytes{service="optimizer"})') > 10e6


def test_dashboards_and_rules_read_only_metrics_that_exist(stack, prometheus):
    exported = set()
    for name, port in service_ports(stack).items():
        resp = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert resp.status_code == 200, name
        exported |= exported_names(resp.text)
    vllm = exported_names(VLLM_METRICS.read_text())
    rules = yaml.safe_load(RULES.read_text())["groups"]
    recorded = {r["record"] for g in rules for r in g["rules"] if "record" in r}
    known = exported | vllm | recorded | {"up"}

    queries = [(f"rule {r.get('alert') or r.get('record')}", r["expr"]) for g in rules for r in g["rules"]]
    for path in sorted(DASHBOARDS.glob("*.json")):
        queries += dashboard_queries(json.loads(path.read_text()))
    missing = [f"{where}: {name}" for where, expr in queries for name in metric_names(expr) if name not in known]
    assert not missing, "queries name metrics nobody exports:\n" + "\n".join(missing)
