"""The dashboards are generated from infra/grafana/dashboards.py, use a datasource variable, and every query
names metrics InteraRec or vLLM export (the code's side is checked against live /metrics in
tests/e2e/test_prometheus_scrape.py; vLLM's against its recorded exposition here)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.ops.promql_names import dashboard_queries, exported_names, metric_names

REPO_ROOT = Path(__file__).resolve().parents[2]
BOARDS = sorted((REPO_ROOT / "charts" / "interarec" / "files" / "dashboards").glob("*.json"))
VLLM_METRICS = Path(__file__).resolve().parent / "fixtures" / "vllm-0.32.0-metrics.txt"


def test_promql_name_extraction():
    expr = ('histogram_quantile(0.95, sum by (le, pod) (rate(interarec_optimizer_end_to_end_latency_seconds_bucket'
            '{namespace=~"$namespace", le!="x"}[$__rate_interval]))) / on (pod) group_left up '
            '+ sum(vllm:num_requests_waiting{service="vllm"} offset 5m) > bool 3 and absent(foo_total)')
    assert metric_names(expr) == {"interarec_optimizer_end_to_end_latency_seconds_bucket", "up",
                                  "vllm:num_requests_waiting", "foo_total"}
    assert metric_names("1 - (sum(rate(a_total[5m])) / sum(rate(b_count[5m])))") == {"a_total", "b_count"}


def test_dashboards_are_generated_from_the_code():
    result = subprocess.run([sys.executable, str(REPO_ROOT / "infra" / "grafana" / "dashboards.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_dashboards_use_a_datasource_variable_and_have_what_the_issue_asks():
    uids = set()
    for path in BOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        text = path.read_text()
        assert "${DS_" not in text, f"{path.name}: file provisioning does not resolve ${{DS_...}}"
        assert board["templating"]["list"][0]["type"] == "datasource"
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}", (path.name, panel["title"])
                assert panel["targets"], (path.name, panel["title"])
    assert uids == {"interarec-overview", "interarec-gateway", "interarec-summarizer", "interarec-decomposer",
                    "interarec-optimizer", "interarec-storefront-api", "interarec-kafka-lag", "interarec-vllm"}
    overview = json.loads((BOARDS[0].parent / "interarec-overview.json").read_text())
    titles = " | ".join(p["title"] for p in overview["panels"]).lower()
    for wanted in ("frames in", "windows", "recommendations", "end-to-end latency", "dead letters", "fallbacks"):
        assert wanted in titles


def test_vllm_panels_name_metrics_vllm_exports():
    vllm_names = exported_names(VLLM_METRICS.read_text())
    board = json.loads((BOARDS[0].parent / "interarec-vllm.json").read_text())
    used = set()
    for where, expr in dashboard_queries(board):
        for name in metric_names(expr):
            if name.startswith("vllm:"):
                assert name in vllm_names, f"{where}: {name} is not in vLLM 0.32.0's exposition"
                used.add(name)
    assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
            "vllm:time_to_first_token_seconds_bucket"} <= used


def test_every_dashboard_query_names_something():
    for path in BOARDS:
        for where, expr in dashboard_queries(json.loads(path.read_text())):
            names = metric_names(expr)
            assert names, f"{where}: no metric in {expr!r}"
            assert all(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n) for n in names), (where, names)
