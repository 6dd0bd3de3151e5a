"""Driving load against a local stack and measuring it while it runs: Locust's shoppers, each worker's
/metrics, and CPU and memory per process from /proc. Shared by `make load-test` (load-tests/run.py) and the
scale-out benchmark (infra/bench/scale_out.py); the arithmetic on what it collects is in load_figures.py."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.bench import load_figures as fig
from infra.local import procstats
from infra.local.stack import Stack
from services.common.config import REPO_ROOT
from services.common.topics import FRAMES

E2E = "interarec_optimizer_end_to_end_latency_seconds"
FRAME_BYTES = "interarec_gateway_frame_bytes"
STAGES = ("summarizer", "decomposer", "optimizer")
# Stages whose input wait is reported: the workers and the storefront's reader of the recommendations topic,
# the last hop before the shopper.
WAIT_STAGES = (*STAGES, "storefront_api")
# Frames whose image went through OCR (embedded reader) or to the model (vLLM backend).
READ_OUTCOMES = ("read", "ocr_failed")
LOCUSTFILE = REPO_ROOT / "load-tests" / "locustfile.py"


def recommended_sessions(stack: Stack, sessions: list[str], timeout_s: float) -> list[str]:
    """Sessions with a recommendation, waiting up to timeout_s for the pipeline to drain."""
    done: set[str] = set()
    deadline = time.monotonic() + timeout_s
    with httpx.Client(headers={"X-API-Key": stack.api_key}, timeout=5.0) as client:
        while True:
            for s in sessions:
                if s not in done and client.get(f"{stack.storefront_url}/v1/sessions/{s}/recommendations").is_success:
                    done.add(s)
            if len(done) == len(sessions) or time.monotonic() > deadline:
                return sorted(done)
            time.sleep(1.0)


def run_locust(stack: Stack, prefix: str, users: int, spawn_rate: float, duration_s: int, out: Path) -> int:
    env = {**os.environ, "INTERAREC_LOAD_GATEWAY_URL": stack.gateway_url,
           "INTERAREC_LOAD_STOREFRONT_URL": stack.storefront_url, "INTERAREC_LOAD_API_KEY": stack.api_key,
           "INTERAREC_LOAD_SESSION_PREFIX": prefix}
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{duration_s}s",
           "--only-summary", "--csv", str(out / "load"), "--loglevel", "WARNING"]
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT).returncode


def of_stage(process: str, stage: str) -> bool:
    """Whether a process ("summarizer", "summarizer-2", "storefront-api") runs a stage ("storefront_api")."""
    return re.fullmatch(re.escape(stage.replace("_", "-")) + r"(-\d+)?", process) is not None


def scrape(stack: Stack, stages: tuple[str, ...] = STAGES) -> dict[str, str]:
    """/metrics of every worker process (each summarizer replica separately), by process name."""
    texts = {}
    with httpx.Client(timeout=5.0) as client:
        for svc in stack.services:
            running = svc.process is not None and svc.process.poll() is None
            if running and any(of_stage(svc.name, stage) for stage in stages):
                try:
                    texts[svc.name] = client.get(f"http://127.0.0.1:{svc.port}/metrics").text
                except httpx.HTTPError:
                    pass  # a replica stopping or restarting: its figures are missing from this sample
    return texts


def stage_lag(texts: dict[str, str]) -> dict[str, float]:
    """Messages waiting per stage: every input partition once (max over replicas, as the alert rules do)."""
    out: dict[str, float] = {}
    for stage in STAGES:
        per_partition: dict[tuple[str, str], float] = {}
        for name, text in texts.items():
            if of_stage(name, stage):
                for tp, value in fig.gauge_by_partition(text, f"interarec_{stage}_consumer_lag_messages").items():
                    per_partition[tp] = max(value, per_partition.get(tp, 0.0))
        out[stage] = sum(per_partition.values())
    return out


def stage_histogram(texts: dict[str, str], stage: str) -> fig.Buckets:
    """A stage's input-lag-in-seconds histogram (how long records waited in its input topic), every replica."""
    return fig.histogram([t for name, t in texts.items() if of_stage(name, stage)],
                         f"interarec_{stage}_input_lag_seconds")


def frames_read(text: str) -> float:
    """Frames one summarizer process sent through OCR or to the model, from its /metrics."""
    by_outcome = fig.counters([text], "interarec_summarizer_frames", "outcome")
    return sum(by_outcome.get(k, 0.0) for k in READ_OUTCOMES)


def assignment(texts: dict[str, str]) -> dict[str, set[int]]:
    """Frames-topic partitions each summarizer replica reports lag for: the ones it is assigned right now."""
    return {name: {int(p) for (topic, p) in fig.gauge_by_partition(text, "interarec_summarizer_consumer_lag_messages")
                   if topic == FRAMES.name}
            for name, text in texts.items() if name.split("-")[0] == "summarizer"}


def processes(stack: Stack) -> dict[str, int]:
    """Process name -> pid: every service and the local broker."""
    pids = {s.name: s.process.pid for s in stack.services if s.process is not None and s.process.poll() is None}
    return pids | stack.other_pids


@dataclass
class Sampler:
    """Samples, every `every` seconds on a thread: lag per stage, RSS per process, the end-to-end histogram and
    which frames-topic partitions each summarizer replica is assigned (figures over time)."""

    stack: Stack
    every: float
    lag: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    rss: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    e2e: list[tuple[float, fig.Buckets]] = field(default_factory=list)
    assigned: list[tuple[float, dict[str, set[int]]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic() - self.started
            texts = scrape(self.stack)
            self.lag.append((t, stage_lag(texts)))
            if (e2e := fig.histogram([texts.get("optimizer", "")], E2E)):
                self.e2e.append((t, e2e))
            self.assigned.append((t, assignment(texts)))
            self.rss.append((t, {name: procstats.usage(pid).rss_bytes for name, pid in processes(self.stack).items()}))
            self._stop.wait(self.every)


@dataclass
class Result:
    users: int
    duration_s: int
    locust_code: int
    frame_posts: int
    frame_failures: int
    failures: int
    latency: fig.Buckets
    frames_read: dict[str, float]  # summarizer frames by outcome, every replica together
    read_by_process: dict[str, float]  # frames that reached OCR or the model, per summarizer replica
    cpu_cores: dict[str, float]  # CPU per process while the shoppers ran, in cores
    cpu_s: dict[str, float]  # CPU seconds per process for the whole step, drain included (per-unit costs)
    lag: list[tuple[float, dict[str, float]]]
    rss: list[tuple[float, dict[str, int]]]
    assigned: list[tuple[float, dict[str, set[int]]]]  # summarizer replica -> frames partitions, over time
    drained: bool
    frame_bytes: float | None = None  # mean size of a frame the gateway wrote to the frames topic
    gateway: dict[str, float] = field(default_factory=dict)  # frame requests by the gateway's outcome
    wait_p95: dict[str, float | None] = field(default_factory=dict)  # per stage: p95 seconds in its input topic

    def p(self, q: float) -> float | None:
        return fig.quantile(self.latency, q)


def locust_stats(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "load_stats.csv") as fh:
        return {row["Name"]: row for row in csv.DictReader(fh)}


def wait_drained(stack: Stack, timeout_s: float) -> bool:
    """Wait until no stage has messages waiting and the last windows had time to close on idle."""
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        if sum(stage_lag(scrape(stack)).values()) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 6.0:  # idle windows close (2.5 s) and flow through the stages
                return True
        else:
            quiet_since = None
        time.sleep(1.0)
    return False


def measure(stack: Stack, prefix: str, users: int, duration_s: int, spawn_rate: float, out: Path,
            sample_every: float, drain_s: float) -> Result:
    """One load step: Locust for duration_s, then the backlog drains (bounded by drain_s); the latency figures
    cover every recommendation published in between, so a pipeline that falls behind shows it."""
    before = scrape(stack, (*WAIT_STAGES, "gateway"))
    cpu_before = {name: procstats.usage(pid).cpu_s for name, pid in processes(stack).items()}
    wall = time.monotonic()
    with Sampler(stack, sample_every) as sampler:
        code = run_locust(stack, prefix, users, spawn_rate, duration_s, out)
        busy_s = time.monotonic() - wall
        cpu_after = {name: procstats.usage(pid).cpu_s for name, pid in processes(stack).items()}
        drained = wait_drained(stack, drain_s)
    cpu_end = {name: procstats.usage(pid).cpu_s for name, pid in processes(stack).items()}
    after = scrape(stack, (*WAIT_STAGES, "gateway"))
    stats = locust_stats(out)
    frames = stats.get("gateway: POST frame", {})
    read_after = fig.counters(after.values(), "interarec_summarizer_frames", "outcome")
    read_before = fig.counters(before.values(), "interarec_summarizer_frames", "outcome")
    return Result(
        users=users, duration_s=duration_s, locust_code=code,
        frame_posts=int(frames.get("Request Count", 0)), frame_failures=int(frames.get("Failure Count", 0)),
        failures=int(stats.get("Aggregated", {}).get("Failure Count", 0)),
        latency=fig.minus(fig.histogram(after.values(), E2E), fig.histogram(before.values(), E2E)),
        frames_read={k: v - read_before.get(k, 0.0) for k, v in read_after.items()},
        read_by_process={name: frames_read(text) - frames_read(before.get(name, "")) for name, text in after.items()
                         if name.split("-")[0] == "summarizer"},
        cpu_cores={k: (cpu_after.get(k, 0.0) - v) / busy_s for k, v in cpu_before.items()},
        cpu_s={k: cpu_end.get(k, 0.0) - v for k, v in cpu_before.items()},
        lag=sampler.lag, rss=sampler.rss, assigned=sampler.assigned, drained=drained,
        wait_p95={stage: fig.quantile(fig.minus(stage_histogram(after, stage), stage_histogram(before, stage)), 0.95)
                  for stage in WAIT_STAGES},
        gateway={k: v - fig.counters([before.get("gateway", "")], "interarec_gateway_frames", "outcome").get(k, 0.0)
                 for k, v in fig.counters([after.get("gateway", "")], "interarec_gateway_frames", "outcome").items()},
        frame_bytes=fig.mean_of(after.get("gateway", ""), before.get("gateway", ""), FRAME_BYTES))
