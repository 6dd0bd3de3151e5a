"""What `interarec status` concludes from what it read: pure, so it is tested without a cluster.

Input: per component, the Deployment's replica counts, its pods' container restarts, and every ready pod's
/metrics (or vLLM's /health), or the lag per partition as Prometheus has it. Output: one line per component and
an overall verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

WORKERS = ("summarizer", "decomposer", "optimizer")


@dataclass
class ComponentReading:
    name: str  # the component: gateway, summarizer, ..., vllm
    deployment: str
    desired: int
    ready: int
    restarts: int = 0
    pod_metrics: dict[str, str] = field(default_factory=dict)  # ready pod -> its /metrics, when it could be read
    # Lag per (topic, partition) from Prometheus, when status reads it there instead of from the pods.
    partition_lag: dict[tuple[str, str], float] | None = None
    health_ok: bool | None = None  # every ready vLLM pod's /health answered; None when not asked or unreachable
    error: str | None = None  # why metrics/health could not be read (from one pod or all)


@dataclass
class ComponentStatus:
    name: str
    deployment: str
    ready: str
    restarts: int
    lag: int | None
    state: str  # ok | degraded | down
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    namespace: str
    release: str
    components: list[ComponentStatus]

    @property
    def state(self) -> str:
        if not self.components:
            return "down"
        states = {c.state for c in self.components}
        return "down" if "down" in states else "degraded" if "degraded" in states else "ok"


def lag_by_partition(pod_metrics: dict[str, str], name: str) -> dict[tuple[str, str], float] | None:
    """Each worker reports the partitions it owns; during a rebalance two may report one. Max per partition,
    as the alert rules do. None when no pod exports the metric."""
    lag: dict[tuple[str, str], float] = {}
    seen = False
    for text in pod_metrics.values():
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    seen = True
                    key = (sample.labels.get("topic", ""), sample.labels.get("partition", ""))
                    lag[key] = max(lag.get(key, 0.0), sample.value)
    return lag if seen else None


def assess(reading: ComponentReading, max_lag: int, max_restarts: int) -> ComponentStatus:
    notes: list[str] = []
    if reading.desired == 0:
        state = "degraded"
        notes.append("scaled to zero")
    elif reading.ready == 0:
        state = "down"
        notes.append("no ready replica")
    elif reading.ready < reading.desired:
        state = "degraded"
        notes.append(f"{reading.desired - reading.ready} replica(s) not ready")
    else:
        state = "ok"
    if reading.restarts > max_restarts:
        state = "degraded" if state == "ok" else state
        notes.append(f"{reading.restarts} container restarts")
    lag = None
    if reading.name in WORKERS and (reading.pod_metrics or reading.partition_lag is not None):
        partitions = reading.partition_lag
        if partitions is None:
            partitions = lag_by_partition(reading.pod_metrics, f"interarec_{reading.name}_consumer_lag_messages")
        if partitions is None:
            notes.append("no consumer-lag metric")
        else:
            lag = int(sum(partitions.values()))
            if lag > max_lag:
                state = "degraded" if state == "ok" else state
                notes.append(f"consumer lag {lag} > {max_lag}")
    if reading.name == "vllm" and reading.health_ok is False:
        state = "down"
        notes.append("/health failing")
    if reading.error and reading.ready:
        notes.append(reading.error)
    return ComponentStatus(reading.name, reading.deployment, f"{reading.ready}/{reading.desired}",
                           reading.restarts, lag, state, notes)


def build_report(namespace: str, release: str, readings: list[ComponentReading], max_lag: int = 500,
                 max_restarts: int = 3) -> Report:
    ordered = sorted(readings, key=lambda r: r.name)
    return Report(namespace, release, [assess(r, max_lag, max_restarts) for r in ordered])


def format_report(report: Report) -> str:
    rows = [("COMPONENT", "READY", "RESTARTS", "LAG", "STATE", "NOTES")]
    for c in report.components:
        rows.append((c.name, c.ready, str(c.restarts), "-" if c.lag is None else str(c.lag), c.state,
                     "; ".join(c.notes)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"release {report.release} in namespace {report.namespace}: {report.state}"]
    if not report.components:
        lines.append("no InteraRec deployments found (wrong namespace or release?)")
        return "\n".join(lines)
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r[:5], widths, strict=True)) + "  " + r[5] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def report_dict(report: Report) -> dict:
    return {"namespace": report.namespace, "release": report.release, "state": report.state,
            "components": [c.__dict__ for c in report.components]}
