"""`interarec status --prometheus-url`: the lag of a Deployment's pods as a real Prometheus (Debian's) scraped
them from two real HTTP servers exporting the lag gauge, each partition once, the other release's pod left out."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from services.ops.status import prometheus_partition_lag


def serve(partitions: dict[int, int]) -> ThreadingHTTPServer:
    registry = CollectorRegistry()
    gauge = Gauge("interarec_summarizer_consumer_lag_messages", "lag", ["topic", "partition"], registry=registry)
    for partition, lag in partitions.items():
        gauge.labels(topic="interarec.frames.v1", partition=str(partition)).set(lag)
    body = generate_latest(registry)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def prometheus(tmp_path, kafka_broker_module):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: run `make setup` (installs Debian's prometheus package)")
    # Pod a owns partitions 0-1, pod b 2-3 and reports 1 as well (mid-rebalance); another release's pod too.
    pods = {"shop-interarec-summarizer-a": {0: 100, 1: 200}, "shop-interarec-summarizer-b": {1: 200, 2: 50, 3: 250},
            "other-interarec-summarizer-a": {0: 9999}}
    servers = {pod: serve(p) for pod, p in pods.items()}
    (port,) = kafka_broker_module.free_ports(1)
    config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [{"job_name": "pods", "static_configs": [
        {"targets": [f"127.0.0.1:{s.server_address[1]}"], "labels": {"namespace": "shop", "pod": pod}}
        for pod, s in servers.items()]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    with open(tmp_path / "prometheus.log", "wb") as log:
        proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                 "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(15)
        for s in servers.values():
            s.shutdown()


def test_lag_from_prometheus_counts_every_pod_and_each_partition_once(prometheus):
    deadline, lag = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        try:
            lag = prometheus_partition_lag(prometheus, "shop", "shop-interarec-summarizer", "summarizer", 5)
        except httpx.HTTPError:
            lag = {}
        if len(lag) == 4:
            break
        time.sleep(0.5)
    assert lag == {("interarec.frames.v1", "0"): 100, ("interarec.frames.v1", "1"): 200,
                   ("interarec.frames.v1", "2"): 50, ("interarec.frames.v1", "3"): 250}
