"""`interarec status`: the verdicts from readings (pure), the report, and the CLI's behaviour without a cluster."""

from __future__ import annotations

import json

from infra.kafka.broker import free_port
from services.ops import cli
from services.ops.health import ComponentReading, build_report, format_report, lag_by_partition, report_dict

WORKER_METRICS = """# HELP interarec_summarizer_consumer_lag_messages lag
# TYPE interarec_summarizer_consumer_lag_messages gauge
interarec_summarizer_consumer_lag_messages{partition="0",topic="interarec.frames.v1"} 300.0
interarec_summarizer_consumer_lag_messages{partition="1",topic="interarec.frames.v1"} 250.0
# HELP interarec_summarizer_messages_total Messages consumed, by outcome
# TYPE interarec_summarizer_messages_total counter
interarec_summarizer_messages_total{outcome="ok"} 12.0
"""


def reading(name, desired=1, ready=1, restarts=0, **kw) -> ComponentReading:
    return ComponentReading(name=name, deployment=f"shop-interarec-{name}", desired=desired, ready=ready,
                            restarts=restarts, **kw)


def test_lag_adds_every_partition_of_every_pod_once():
    lag = "interarec_summarizer_consumer_lag_messages"
    # Two workers own different partitions: the Service would have shown one of them at random.
    pod_b = WORKER_METRICS.replace('partition="0"', 'partition="2"').replace('partition="1"', 'partition="3"')
    assert sum(lag_by_partition({"a": WORKER_METRICS, "b": pod_b}, lag).values()) == 1100
    # During a rebalance two pods report one partition: counted once (the larger reading).
    assert sum(lag_by_partition({"a": WORKER_METRICS, "b": WORKER_METRICS}, lag).values()) == 550
    assert lag_by_partition({"a": WORKER_METRICS}, "interarec_decomposer_consumer_lag_messages") is None


def test_a_worker_is_judged_on_all_its_pods():
    pod_b = WORKER_METRICS.replace('partition="0"', 'partition="2"').replace('partition="1"', 'partition="3"')
    one = build_report("shop", "shop", [reading("summarizer", 2, 2, pod_metrics={"a": WORKER_METRICS})])
    both = build_report("shop", "shop", [reading("summarizer", 2, 2, pod_metrics={"a": WORKER_METRICS, "b": pod_b})],
                        max_lag=1000)
    assert one.components[0].lag == 550
    assert both.components[0].lag == 1100 and both.components[0].state == "degraded"
    from_prometheus = build_report("shop", "shop", [reading("summarizer", partition_lag={("t", "0"): 7.0})])
    assert from_prometheus.components[0].lag == 7


def test_healthy_release_is_ok():
    report = build_report("shop", "shop", [
        reading("gateway", 2, 2),
        reading("summarizer", pod_metrics={"s": WORKER_METRICS.replace("300.0", "3.0").replace("250.0", "0.0")}),
        reading("vllm", health_ok=True),
    ])
    assert report.state == "ok"
    assert [c.name for c in report.components] == ["gateway", "summarizer", "vllm"]
    assert report.components[1].lag == 3


def test_lag_restarts_and_missing_replicas_degrade_and_no_ready_replica_is_down():
    report = build_report("shop", "shop", [
        reading("summarizer", pod_metrics={"s": WORKER_METRICS}),
        reading("gateway", 3, 2),
        reading("optimizer", restarts=7, pod_metrics={"o": WORKER_METRICS.replace("summarizer", "optimizer")
                .replace("300.0", "0.0").replace("250.0", "0.0")}),
    ], max_lag=500, max_restarts=3)
    states = {c.name: (c.state, c.notes) for c in report.components}
    assert states["summarizer"] == ("degraded", ["consumer lag 550 > 500"])
    assert states["gateway"] == ("degraded", ["1 replica(s) not ready"])
    assert states["optimizer"] == ("degraded", ["7 container restarts"])
    assert report.state == "degraded"
    down = build_report("shop", "shop", [reading("decomposer", 1, 0), reading("vllm", health_ok=False)])
    assert {c.name: c.state for c in down.components} == {"decomposer": "down", "vllm": "down"}
    assert down.state == "down"


def test_a_worker_without_the_lag_metric_says_so():
    report = build_report("shop", "shop", [reading("decomposer", pod_metrics={"d": ""})])
    assert report.components[0].notes == ["no consumer-lag metric"]


def test_format_and_json():
    report = build_report("shop", "prod", [reading("summarizer", pod_metrics={"s": WORKER_METRICS})], max_lag=100)
    text = format_report(report)
    assert text.splitlines()[0] == "release prod in namespace shop: degraded"
    assert "summarizer" in text and "550" in text and "consumer lag 550 > 100" in text
    data = json.loads(json.dumps(report_dict(report)))
    assert data["state"] == "degraded" and data["components"][0]["lag"] == 550
    assert "no InteraRec deployments found" in format_report(build_report("shop", "x", []))


def test_cli_without_a_cluster_exits_2_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert cli.main(["status", "--namespace", "shop", "--release", "shop"]) == 2
    assert "no Kubernetes configuration" in capsys.readouterr().err


def test_cli_with_an_unreachable_api_server_exits_2(tmp_path, monkeypatch, capsys):
    closed = free_port()
    config = tmp_path / "kubeconfig"
    config.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{closed}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    monkeypatch.setenv("KUBECONFIG", str(config))
    assert cli.main(["status", "-n", "shop", "-r", "shop"]) == 2
    err = capsys.readouterr().err
    assert "Kubernetes API error" in err and str(closed) in err
