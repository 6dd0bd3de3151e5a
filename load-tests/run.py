"""`make load-test`: start Kafka and the services, run Locust's shoppers (locustfile.py) headless against
them, and answer capacity questions from what the pipeline itself measured:

- capture-to-recommendation latency p50/p95/p99 (the optimizer's histogram: 0.25 s buckets up to 5 s,
  interpolated as Prometheus's histogram_quantile does), for recommendations published during the run and
  while the backlog drained;
- frames per shopper-minute: sent, written to the frames topic by the gateway, and reaching OCR (or the model);
- consumer lag per stage over time (each worker's interarec_<stage>_consumer_lag_messages) and the p95 of
  the seconds records waited in each stage's input topic (interarec_<stage>_input_lag_seconds), the
  storefront's reader of the recommendations topic included;
- CPU per stage (each process and what it started, from /proc) and resident memory.

Modes:
    make load-test ARGS="--users 20 --duration 60"      one run
    make load-test ARGS="--find-capacity"               raise shoppers until p95 exceeds 5 s; print the knee
    make soak [ARGS="--users 6"]                        30 min at half the knee (found first unless --users):
                                                        every process's RSS flat within 10 %, no lag growth

INTERAREC_LOCAL_SUMMARIZER_REPLICAS=n runs n summarizer processes in one consumer group.
Exit status: 0 when the run met its bar (one run: no failed request and every shopper recommended for;
--find-capacity: a knee was found; soak: flat RSS and no lag growth), else 1.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repo's infra/ and services/ packages

from infra.bench import load_figures as fig  # noqa: E402
from infra.bench.load_run import READ_OUTCOMES, STAGES, Result, measure, recommended_sessions, run_locust  # noqa: E402, F401
from infra.local.stack import Stack, StackError, local_stack  # noqa: E402
from services.common.metrics import E2E_LATENCY_BUCKETS  # noqa: E402

TARGET_P95_S = 5.0  # the in-session promise: a recommendation within 5 s of the screenshot


def say(msg: str) -> None:
    print(msg, flush=True)


def seconds(value: float | None) -> str:
    if value is None:
        return "n/a (no recommendation measured)"
    return f"> {E2E_LATENCY_BUCKETS[-1]:g} s" if math.isinf(value) else f"{value:.2f} s"


def report(r: Result) -> None:
    minutes_users = (r.users, r.duration_s)
    accepted = r.frame_posts - r.frame_failures
    written = r.gateway.get("accepted", 0.0)  # to the frames topic (exact repeats are answered, not written)
    read = sum(r.frames_read.get(k, 0.0) for k in READ_OUTCOMES)
    say(f"\n== {r.users} shoppers, {r.duration_s} s ==")
    say(f"capture -> recommendation ({int(r.latency[-1][1]) if r.latency else 0} recommendations): "
        f"p50 {seconds(r.p(0.5))}, p95 {seconds(r.p(0.95))}, p99 {seconds(r.p(0.99))}"
        + ("" if r.drained else "  [backlog had not drained: the figures understate it]"))
    say(f"frames per shopper-minute: sent {fig.per_minute(r.frame_posts, *minutes_users):.1f}, answered 2xx "
        f"{fig.per_minute(accepted, *minutes_users):.1f} ({r.frame_failures} refused), reaching OCR/model "
        f"{fig.per_minute(read, *minutes_users):.1f}; summarizer outcomes: "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(r.frames_read.items())))
    if r.gateway:
        say(f"gateway: {fig.per_minute(written, *minutes_users):.1f} frames per shopper-minute written to the frames "
            "topic; outcomes " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(r.gateway.items())))
    if r.frame_bytes:
        say(f"frames topic: {r.frame_bytes / 1000:.0f} kB per frame, "
            f"{fig.per_minute(written, *minutes_users) * r.frame_bytes / 60 / 1000:.1f} kB/s per shopper")
    say(f"CPU per process while loaded (cores; {os.cpu_count()} on this machine): "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.cpu_cores.items(), key=lambda kv: -kv[1])))
    recs = r.latency[-1][1] if r.latency else 0.0
    units = {"summarizer": (read, "frame read"), "gateway": (accepted, "frame POST"),
             "kafka": (written, "frame written"), "decomposer": (recs, "recommendation"),
             "optimizer": (recs, "recommendation")}
    say("CPU cost per unit of work (ms of CPU, drain included): " + ", ".join(
        f"{name} {1000 * sum(v for k, v in r.cpu_s.items() if k.split('-')[0] == name) / n:.0f} per {unit}"
        for name, (n, unit) in units.items() if n))
    if r.rss:
        say("resident memory at the end (MiB): "
            + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in sorted(r.rss[-1][1].items())))
    if any(v is not None for v in r.wait_p95.values()):
        say("seconds a record waited in each stage's input topic, p95: " + ", ".join(
            f"{stage} {seconds(v)}" for stage, v in r.wait_p95.items() if v is not None))
    if r.lag:
        say("consumer lag per stage over time (messages waiting):")
        say("   t(s)  " + "  ".join(f"{s:>10}" for s in STAGES))
        stride = max(1, len(r.lag) // 20)
        for t, lag in r.lag[::stride]:
            say(f"  {t:5.0f}  " + "  ".join(f"{lag.get(s, 0):>10.0f}" for s in STAGES))


def find_capacity(stack: Stack, args, out: Path) -> int | None:
    """Raise shoppers step by step until p95 exceeds --p95-limit (with --until lag: until the pipeline also
    stops keeping up); print every step and both knees, return the latency knee (None: the first step already
    exceeded the limit, or --max-users did not)."""
    steps: list[fig.Step] = []
    rows: list[str] = []
    users = args.start_users
    while users <= args.max_users:
        r = measure(stack, f"cap-{uuid.uuid4().hex[:6]}", users, args.duration, args.spawn_rate, out / f"u{users}",
                    args.sample_every, args.drain)
        report(r)
        step = fig.Step(users, r.p(0.95), fig.keeps_up(r.lag, r.duration_s + 10, r.drained))
        steps.append(step)
        read = sum(r.frames_read.get(k, 0.0) for k in READ_OUTCOMES)
        rows.append(f"  {users:>4} | {seconds(r.p(0.5)):>8} | {seconds(step.p95_s):>8} | {read / r.duration_s:8.1f} | "
                    f"{r.cpu_cores.get('summarizer', 0.0):10.2f} | {sum(r.cpu_cores.values()):9.2f} | "
                    f"{'yes' if step.keeps_up else 'NO'}")
        over = fig.knee(steps, args.p95_limit) != users
        if (over and args.until == "p95") or not step.keeps_up:
            break
        users = fig.next_users(users, args.factor)
    say(f"\n== capacity steps ({args.duration} s each; {os.cpu_count()} cores, shared: figures are noisy) ==")
    say("  shoppers | p50      | p95      | frames read/s | summarizer cores | all cores | kept up")
    for row in rows:
        say(row)
    k, t = fig.knee(steps, args.p95_limit), fig.throughput_knee(steps)
    if t is not None and (t != steps[-1].users):
        say(f"throughput knee: {t} shoppers kept up with (lag bounded, drained); {steps[-1].users} did not")
    if k is None:
        say(f"no latency knee: already {args.start_users} shoppers exceeded p95 {args.p95_limit:g} s")
        return None
    if k == steps[-1].users:
        say(f"no latency knee below --max-users {args.max_users}: {k} shoppers still within p95 {args.p95_limit:g} s")
        return None
    say(f"latency knee: {k} shoppers within p95 {args.p95_limit:g} s; {fig.next_users(k, args.factor)} exceeded it")
    return k


def soak(stack: Stack, args, out: Path, users: int) -> int:
    """Hold `users` shoppers for --soak minutes: RSS of every process flat within 10 %, no lag growth."""
    say(f"\nsoak: {users} shoppers for {args.soak:g} min (samples every {args.sample_every:g} s) ...")
    r = measure(stack, f"soak-{uuid.uuid4().hex[:6]}", users, int(args.soak * 60), args.spawn_rate, out / "soak",
                args.sample_every, args.drain)
    report(r)
    ok = True
    say("\n== soak verdict ==")
    names = sorted({n for _, sample in r.rss for n in sample})
    for name in names:
        series = [sample.get(name, 0) for _, sample in r.rss if name in sample]
        drift = fig.relative_drift(series)
        flat = abs(drift) <= 0.10
        ok &= flat
        say(f"  RSS {name:<16} {series[0] / 2**20:7.0f} -> {series[-1] / 2**20:7.0f} MiB, after warm-up "
            f"{drift:+.1%}  {'flat' if flat else 'NOT FLAT'}")
    for stage in STAGES:
        slope = fig.lag_growth([(t, lag.get(stage, 0.0)) for t, lag in r.lag])
        grows = slope * args.soak * (1 - fig.WARMUP) > fig.LAG_GROWTH_SLACK
        ok &= not grows
        say(f"  lag {stage:<16} trend {slope:+.1f} messages/min  {'GROWING' if grows else 'no growth'}")
    say(f"soak {'passed' if ok else 'FAILED'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make load-test", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, help="concurrent shoppers (default 20; soak: half the knee)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="shoppers started per second (default 5)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load per run or step (default 60)")
    parser.add_argument("--drain", type=int, default=120,
                        help="seconds to wait afterwards for the backlog and every shopper's recommendation")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between lag/RSS samples")
    parser.add_argument("--find-capacity", action="store_true", help="raise shoppers until p95 exceeds 5 s")
    parser.add_argument("--start-users", type=int, default=4, help="--find-capacity: first step (default 4)")
    parser.add_argument("--p95-limit", type=float, default=TARGET_P95_S,
                        help=f"--find-capacity: the latency knee's p95 (default {TARGET_P95_S:g} s)")
    parser.add_argument("--until", choices=("p95", "lag"), default="p95",
                        help="--find-capacity: stop when p95 exceeds the limit (default) or, past it, when the "
                             "pipeline stops keeping up (lag grows), to find the throughput knee too")
    parser.add_argument("--factor", type=float, default=1.5, help="--find-capacity: growth per step (default 1.5)")
    parser.add_argument("--max-users", type=int, default=200, help="--find-capacity: stop here (default 200)")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="soak for this long (make soak: 30)")
    args = parser.parse_args(argv)
    if (args.users is not None and args.users < 1) or args.duration < 1 or args.start_users < 1 or args.factor <= 1:
        parser.error("--users, --duration and --start-users must be at least 1, --factor above 1")
    if args.soak is not None and args.soak <= 0:
        parser.error("--soak must be a positive number of minutes")
    from services.common import config

    try:
        # Lag sampled every 2 s (not the default 10), so the figures over time have some resolution.
        with local_stack(say, extra_env={"INTERAREC_CONSUMER_LAG_INTERVAL_S": "2"}, isolated=True) as stack:
            out = config.var_dir() / "load"
            say(f"Locust CSV in {out}/")
            if args.find_capacity:
                return 0 if find_capacity(stack, args, out) else 1
            if args.soak is not None:
                users = args.users
                if users is None:
                    say("soak: finding the knee first (--users skips this) ...")
                    knee = find_capacity(stack, args, out)
                    if not knee:
                        return 1
                    users = max(1, knee // 2)
                return soak(stack, args, out, users)
            return single_run(stack, args, out)
    except KeyboardInterrupt:
        say("\nstopping ...")
        return 130
    except StackError as exc:
        say(f"\nERROR: {exc}")
        return 1


def single_run(stack: Stack, args, out: Path) -> int:
    users = args.users or 20
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    say(f"\n{users} shoppers for {args.duration}s (Locust) ...")
    r = measure(stack, prefix, users, args.duration, args.spawn_rate, out, args.sample_every, args.drain)
    got = recommended_sessions(stack, [f"{prefix}-{n}" for n in range(users)], args.drain)
    report(r)
    say(f"shoppers with a recommendation: {len(got)}/{users}")
    say(f"Locust: {'no failed requests' if r.locust_code == 0 else 'some requests failed (see the table above)'}")
    return 0 if r.locust_code == 0 and len(got) == users else 1


if __name__ == "__main__":
    sys.exit(main())
