"""Builds the Grafana dashboards into charts/interarec/files/dashboards/ (the chart ships them as ConfigMaps).

`python infra/grafana/dashboards.py` rewrites them; `--check` exits 1 when the files differ from this code.
Every panel reads the datasource variable `$datasource` (file provisioning does not resolve `${DS_...}`
placeholders) and filters on `$namespace`. Series carry `service` = component name, as the chart's
ServiceMonitors set it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[2] / "charts" / "interarec" / "files" / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace=~"$namespace"'
WORKERS = ("summarizer", "decomposer", "optimizer")


def q(expr: str, legend: str = "") -> dict:
    return {"expr": expr, "legendFormat": legend}


def pct(quantile: float, metric: str, by: str = "", sel: str = NS) -> dict:
    group = f"{by}, le" if by else "le"
    expr = f"histogram_quantile({quantile}, sum by ({group}) (rate({metric}_bucket{{{sel}}}[$__rate_interval])))"
    label = f"p{int(quantile * 100)}" + (f" {{{{{by}}}}}" if by else "")
    return q(expr, label)


def rate(metric: str, by: str = "", sel: str = NS, legend: str | None = None) -> dict:
    grouping = f"sum by ({by}) " if by else "sum "
    return q(f"{grouping}(rate({metric}{{{sel}}}[$__rate_interval]))",
             legend if legend is not None else (f"{{{{{by}}}}}" if by else ""))


class Board:
    def __init__(self, uid: str, title: str, description: str):
        self.uid, self.title, self.description = uid, title, description
        self.panels: list[dict] = []
        self._x = self._y = 0

    def row(self, title: str) -> None:
        if self._x:
            self._x, self._y = 0, self._y + 8
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y}, "panels": []})
        self._y += 1

    def panel(self, title: str, targets: list[dict], unit: str = "short", kind: str = "timeseries",
              description: str = "", width: int = 12) -> None:
        if self._x + width > 24:
            self._x, self._y = 0, self._y + 8
        self.panels.append({
            "id": len(self.panels) + 1, "type": kind, "title": title, "description": description,
            "datasource": DS,
            "gridPos": {"h": 8, "w": width, "x": self._x, "y": self._y},
            "targets": [dict(t, refId=chr(ord("A") + i), datasource=DS) for i, t in enumerate(targets)],
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if kind == "timeseries" else {},
        })
        self._x += width

    def to_json(self) -> dict:
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": ["interarec"], "timezone": "browser", "editable": True, "schemaVersion": 39, "version": 1,
            "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
            "links": [{"type": "dashboards", "tags": ["interarec"], "title": "InteraRec", "asDropdown": True}],
            "templating": {"list": [
                {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
                 "current": {}, "hide": 0},
                {"name": "namespace", "label": "Namespace", "type": "query", "datasource": DS,
                 "query": {"query": "label_values(up, namespace)", "refId": "namespace"},
                 "definition": "label_values(up, namespace)", "refresh": 2, "includeAll": True,
                 "allValue": ".*", "multi": False, "current": {}, "hide": 0},
            ]},
            "annotations": {"list": []},
            "panels": self.panels,
        }


def lag(service: str) -> dict:
    return q(f"sum by (topic) (max by (topic, partition) (interarec_{service}_consumer_lag_messages{{{NS}}}))",
             "{{topic}}")


def overview() -> Board:
    b = Board("interarec-overview", "InteraRec / Pipeline overview",
              "Frames in, windows, recommendations, end-to-end latency, dead letters and model fallbacks.")
    b.row("Flow")
    b.panel("Frames in (gateway)", [rate("interarec_gateway_frames_total", "outcome")], "reqps")
    b.panel("Windows closed (summarizer)", [rate("interarec_summarizer_windows_total", "reason")], "ops")
    b.panel("Recommendations published (optimizer)",
            [rate("interarec_optimizer_messages_total", sel=f'{NS}, outcome="ok"', legend="recommendations")], "ops")
    b.panel("End-to-end latency, screenshot to recommendation",
            [pct(0.5, "interarec_optimizer_end_to_end_latency_seconds"),
             pct(0.95, "interarec_optimizer_end_to_end_latency_seconds"),
             pct(0.99, "interarec_optimizer_end_to_end_latency_seconds")], "s",
            description="From the capture time of a window's newest frame to the recommendation (SLO: p95 under 10 s).")
    b.row("Failures")
    b.panel("Dead letters by stage", [rate(f"interarec_{s}_dead_letters_total", legend=s) for s in WORKERS], "ops")
    b.panel("Model fallbacks (vLLM not used)",
            [rate("interarec_summarizer_fallbacks_total", legend="summarizer"),
             rate("interarec_decomposer_fallbacks_total", legend="decomposer")], "ops")
    b.panel("Services up", [q('sum by (service) (up{service=~"gateway|storefront-api|summarizer|decomposer|'
                              f'optimizer|vllm", {NS}}})', "{{service}}")], "short")
    b.panel("Consumer lag by stage", [lag(s) for s in WORKERS], "short")
    b.panel("HTTP server errors (5xx) by service",
            [rate("interarec_http_requests_total", "service", f'{NS}, status=~"5.."')], "reqps")
    return b


def process_panels(b: Board, service: str) -> None:
    b.row("Process")
    sel = f'service="{service}", {NS}'
    b.panel("CPU", [q(f"sum by (pod) (rate(process_cpu_seconds_total{{{sel}}}[$__rate_interval]))", "{{pod}}")],
            "percentunit")
    b.panel("Resident memory", [q(f"sum by (pod) (process_resident_memory_bytes{{{sel}}})", "{{pod}}")], "bytes")


def http_panels(b: Board, service: str) -> None:
    """interarec_http_requests_total / _exceptions_total (services/common/http_metrics.py), by route template."""
    b.row("HTTP")
    sel = f'service="{service}", {NS}'
    b.panel("Responses by status", [rate("interarec_http_requests_total", "status", sel)], "reqps")
    b.panel("Server errors (5xx) by route",
            [rate("interarec_http_requests_total", "route, status", f'{sel}, status=~"5.."',
                  legend="{{status}} {{route}}")], "reqps",
            description="Any 5xx is a bug or an outage: hostile input must be answered 4xx.")
    b.panel("Unhandled exceptions by route and type",
            [rate("interarec_http_exceptions_total", "route, exception", sel, legend="{{exception}} {{route}}")],
            "ops")
    b.panel("Client errors (4xx) by route",
            [rate("interarec_http_requests_total", "route, status", f'{sel}, status=~"4.."',
                  legend="{{status}} {{route}}")], "reqps")


def worker_panels(b: Board, service: str) -> None:
    b.panel("Messages by outcome", [rate(f"interarec_{service}_messages_total", "outcome")], "ops")
    b.panel("Processing time per message",
            [pct(0.5, f"interarec_{service}_processing_seconds"), pct(0.95, f"interarec_{service}_processing_seconds")],
            "s")
    b.panel("Dead letters by error", [rate(f"interarec_{service}_dead_letters_total", "error")], "ops")
    b.panel("Consumer lag", [lag(service)], "short")
    input_lag_panel(b, service)


def input_lag_panel(b: Board, service: str) -> None:
    metric = f"interarec_{service.replace('-', '_')}_input_lag_seconds"
    b.panel("Input lag: seconds a record waited in the input topic", [pct(0.5, metric), pct(0.95, metric)], "s")


def gateway() -> Board:
    b = Board("interarec-gateway", "InteraRec / Gateway", "Frame uploads: outcomes, sizes and broker acknowledgement.")
    b.row("Frames")
    b.panel("Frame requests by outcome", [rate("interarec_gateway_frames_total", "outcome")], "reqps")
    b.panel("Re-encoded frame size", [pct(0.5, "interarec_gateway_frame_bytes"),
                                      pct(0.95, "interarec_gateway_frame_bytes")], "bytes")
    b.panel("Broker acknowledgement time", [pct(0.5, "interarec_gateway_broker_ack_seconds"),
                                            pct(0.99, "interarec_gateway_broker_ack_seconds")], "s")
    http_panels(b, "gateway")
    process_panels(b, "gateway")
    return b


def summarizer() -> Board:
    b = Board("interarec-summarizer", "InteraRec / Summarizer", "Frames, OCR, windows and model calls.")
    b.row("Frames and windows")
    b.panel("Frames by outcome", [rate("interarec_summarizer_frames_total", "outcome")], "ops")
    b.panel("Windows closed by reason", [rate("interarec_summarizer_windows_total", "reason")], "ops")
    b.panel("OCR + grounding time per distinct frame", [pct(0.5, "interarec_summarizer_ocr_seconds"),
                                                        pct(0.95, "interarec_summarizer_ocr_seconds")], "s")
    b.panel("Model fallbacks", [rate("interarec_summarizer_fallbacks_total", legend="fallbacks")], "ops")
    b.row("Consumer")
    worker_panels(b, "summarizer")
    process_panels(b, "summarizer")
    return b


def decomposer() -> Board:
    b = Board("interarec-decomposer", "InteraRec / Decomposer", "Summaries turned into optimization requests.")
    b.row("Consumer")
    worker_panels(b, "decomposer")
    b.panel("Model fallbacks", [rate("interarec_decomposer_fallbacks_total", legend="fallbacks")], "ops")
    process_panels(b, "decomposer")
    return b


def optimizer() -> Board:
    b = Board("interarec-optimizer", "InteraRec / Optimizer", "MNL assortment solves and recommendations.")
    b.row("Solves")
    b.panel("Solve time by solver", [pct(0.5, "interarec_optimizer_solve_seconds", "solver"),
                                     pct(0.95, "interarec_optimizer_solve_seconds", "solver")], "s")
    b.panel("End-to-end latency", [pct(0.5, "interarec_optimizer_end_to_end_latency_seconds"),
                                   pct(0.95, "interarec_optimizer_end_to_end_latency_seconds")], "s")
    b.row("Consumer")
    worker_panels(b, "optimizer")
    process_panels(b, "optimizer")
    return b


def storefront() -> Board:
    b = Board("interarec-storefront-api", "InteraRec / Storefront API", "Recommendations read and served.")
    b.row("Recommendations")
    b.panel("Recommendation records read by outcome", [rate("interarec_storefront_api_records_total", "outcome")],
            "ops")
    input_lag_panel(b, "storefront-api")
    http_panels(b, "storefront-api")
    process_panels(b, "storefront-api")
    return b


def kafka_lag() -> Board:
    b = Board("interarec-kafka-lag", "InteraRec / Kafka consumer lag",
              "Messages waiting behind each worker's committed offset, as the workers export it.")
    b.row("Lag")
    for s in WORKERS:
        b.panel(f"{s}: lag by partition",
                [q(f"max by (topic, partition) (interarec_{s}_consumer_lag_messages{{{NS}}})",
                   "{{topic}} [{{partition}}]")], "short")
    b.panel("Total lag by stage", [lag(s) for s in WORKERS], "short")
    return b


def vllm() -> Board:
    b = Board("interarec-vllm", "InteraRec / vLLM", "The GPU model server: queue, cache, latency and tokens.")
    sel = f'service="vllm", {NS}'
    b.row("Load")
    b.panel("Requests running and waiting",
            [q(f"sum(vllm:num_requests_running{{{sel}}})", "running"),
             q(f"sum(vllm:num_requests_waiting{{{sel}}})", "waiting")], "short",
            description="KEDA scales vLLM on the waiting requests.")
    b.panel("KV cache usage", [q(f"max by (pod) (vllm:kv_cache_usage_perc{{{sel}}})", "{{pod}}")], "percentunit")
    b.panel("Requests finished by reason", [rate("vllm:request_success_total", "finished_reason", sel)], "reqps",
            description="`length` means a truncated answer.")
    b.panel("Preemptions", [rate("vllm:num_preemptions_total", sel=sel, legend="preemptions")], "ops")
    b.row("Latency")
    b.panel("Time to first token", [pct(0.5, "vllm:time_to_first_token_seconds", sel=sel),
                                    pct(0.95, "vllm:time_to_first_token_seconds", sel=sel)], "s")
    b.panel("Request latency", [pct(0.5, "vllm:e2e_request_latency_seconds", sel=sel),
                                pct(0.95, "vllm:e2e_request_latency_seconds", sel=sel)], "s")
    b.panel("Queue time", [pct(0.95, "vllm:request_queue_time_seconds", sel=sel)], "s")
    b.row("Tokens")
    b.panel("Prompt and generation tokens",
            [rate("vllm:prompt_tokens_total", sel=sel, legend="prompt"),
             rate("vllm:generation_tokens_total", sel=sel, legend="generation")], "short")
    return b


BOARDS = (overview, gateway, summarizer, decomposer, optimizer, storefront, kafka_lag, vllm)


def render_all() -> dict[str, str]:
    out = {}
    for build in BOARDS:
        board = build()
        out[f"{board.uid}.json"] = json.dumps(board.to_json(), indent=2, sort_keys=False) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the dashboard files differ from this code")
    args = parser.parse_args(argv)
    wanted = render_all()
    present = {p.name: p.read_text() for p in OUT_DIR.glob("*.json")}
    if args.check:
        if present != wanted:
            stale = sorted(set(present) ^ set(wanted) | {n for n in wanted if present.get(n) != wanted[n]})
            print(f"dashboards out of date ({', '.join(stale)}): run python infra/grafana/dashboards.py",
                  file=sys.stderr)
            return 1
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in set(present) - set(wanted):
        (OUT_DIR / name).unlink()
    for name, text in wanted.items():
        if present.get(name) != text:
            (OUT_DIR / name).write_text(text)
            print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
