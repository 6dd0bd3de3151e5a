"""`make load-test`: start Kafka and the services, run Locust's shoppers (locustfile.py) headless against
them, then report what the shoppers got: request rates and latencies per endpoint (Locust's table), how
many shoppers received a recommendation, and the pipeline's capture-to-recommendation latency.

    make load-test ARGS="--users 20 --duration 60"
    python load-tests/run.py --users 20 --spawn-rate 5 --duration 60

Exit status: 0 when no request failed and every shopper got a recommendation, else 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repo's infra/ and services/ packages

from infra.local.stack import Stack, StackError, local_stack  # noqa: E402


def say(msg: str) -> None:
    print(msg, flush=True)


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


def histogram_quantile(metrics_text: str, name: str, q: float) -> float | None:
    """Upper bound of the bucket holding quantile q of a Prometheus histogram (None when empty)."""
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            buckets = sorted((float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket"))
    if not buckets or buckets[-1][1] == 0:
        return None
    target = q * buckets[-1][1]
    return next(le for le, count in buckets if count >= target)


def run_locust(stack: Stack, prefix: str, users: int, spawn_rate: float, duration_s: int, out: Path) -> int:
    env = {**os.environ, "INTERAREC_LOAD_GATEWAY_URL": stack.gateway_url,
           "INTERAREC_LOAD_STOREFRONT_URL": stack.storefront_url, "INTERAREC_LOAD_API_KEY": stack.api_key,
           "INTERAREC_LOAD_SESSION_PREFIX": prefix}
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "load-tests" / "locustfile.py"), "--headless",
           "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", f"{duration_s}s",
           "--only-summary", "--csv", str(out / "load"), "--loglevel", "WARNING"]
    return subprocess.run(cmd, env=env, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make load-test", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20, help="concurrent shoppers (default 20)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="shoppers started per second (default 5)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--drain", type=int, default=120,
                        help="seconds to wait afterwards for every shopper's recommendation (default 120)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration < 1:
        parser.error("--users and --duration must be at least 1")
    from services.common import config

    try:
        with local_stack(say) as stack:
            prefix = f"load-{uuid.uuid4().hex[:8]}"
            out = config.var_dir() / "load"
            say(f"\n{args.users} shoppers for {args.duration}s (Locust; CSV in {out}/) ...")
            code = run_locust(stack, prefix, args.users, args.spawn_rate, args.duration, out)
            sessions = [f"{prefix}-{n}" for n in range(args.users)]
            say(f"\nwaiting up to {args.drain}s for every shopper's recommendation ...")
            got = recommended_sessions(stack, sessions, args.drain)
            metrics = httpx.get(f"http://127.0.0.1:{stack.ports.optimizer}/metrics", timeout=5.0).text
            name = "interarec_optimizer_end_to_end_latency_seconds"
            p50, p95 = histogram_quantile(metrics, name, 0.5), histogram_quantile(metrics, name, 0.95)
            say(f"\nshoppers with a recommendation: {len(got)}/{len(sessions)}")
            if p50 is not None:
                say(f"capture -> recommendation latency (optimizer histogram, bucket upper bounds): "
                    f"p50 <= {p50:g}s, p95 <= {p95:g}s")
            say(f"Locust: {'no failed requests' if code == 0 else 'some requests failed (see the table above)'}")
            return 0 if code == 0 and len(got) == len(sessions) else 1
    except KeyboardInterrupt:
        say("\nstopping ...")
        return 130
    except StackError as exc:
        say(f"\nERROR: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
