"""Recovery time of the summarizer with N sessions in its table (default 10,000): prints the figures.

    python -m infra.bench.bench_recovery [--sessions 10000] [--bootstrap host:port]

Writes N realistic session states (a 20-observation history, as after a few minutes of browsing) straight
into the summarizer's table changelog, then starts the real summarizer process and measures the time from
process start until /readyz answers 200 and the worker tracks all N sessions:
  - rocksdb, cold: empty local state, the changelog is read in full (a new pod, or a lost disk);
  - rocksdb, warm: restarted after SIGKILL on the same state directory (only the changelog's tail is read);
  - memory: Faust's in-memory store, which always re-reads the full changelog;
  - baseline: the same process start with an empty table (imports, catalog, group join), for reference.
Without --bootstrap a throwaway single-node broker is started (infra/kafka), so nothing else is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from infra.kafka import broker as kb
from infra.kafka.broker import free_port
from services.common.config import REPO_ROOT
from services.common.keys import session_key
from services.common.messages import now_ms
from services.common.topics import FRAMES, apply_topics, session_partition
from services.core.reading.grounding import Observation
from services.core.reading.window import SessionState

CHANGELOG = "interarec-summarizer-summarizer-sessions-changelog"


def sample_value(i: int, now: int) -> dict:
    state = SessionState(last_window_seq=1000 + i, last_frame_seq=999 + i, last_capture_ms=now, frames_seen=60,
                         history=[Observation(kind="product", product_id=f"P{(i * 7 + k) % 4000:05d}",
                                              product_confidence=0.93, heading=f"Norda Trail runner {k}",
                                              sku_text=f"P{k:05d}", brands=["Norda"], colours=["Black"],
                                              category="Running shoes", prices=[129.0 + k],
                                              page_url=f"http://shop/p/P{k:05d}", frame_seq=900 + k,
                                              capture_ms=now - 1000 * k)
                                  for k in range(20)])
    tenant, sid = "bench", f"s{i:06d}"
    return {"tenant": tenant, "session_id": sid, "state": state.to_dict(), "gateway": [now - 5, now - 1],
            "seen_ms": now}  # recent: none expires, no window open, so no ticks during the measurement


def fill_changelog(bootstrap: str, sessions: int) -> int:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from services.common.kafka_security import kafka_python_kwargs

    auth = kafka_python_kwargs()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **auth)
    with contextlib.suppress(Exception):  # already there
        admin.create_topics([NewTopic(CHANGELOG, FRAMES.partitions, 1, topic_configs={"cleanup.policy": "compact"})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024,
                             compression_type=None, **auth)
    now, size = now_ms(), 0
    for i in range(sessions):
        value = sample_value(i, now)
        key = session_key(value["tenant"], value["session_id"])
        payload = json.dumps(value).encode()
        size += len(payload)
        # as Faust writes table changelogs: JSON key and value, partition from SessionTable.partition_for_key
        producer.send(CHANGELOG, key=json.dumps(key).encode(), value=payload,
                      partition=session_partition(key, FRAMES.partitions))
    producer.flush()
    producer.close()
    return size // max(1, sessions)


def time_to_ready(env: dict, expect_sessions: int, timeout_s: float = 600.0) -> tuple[float, float]:
    """(seconds to /readyz 200: state recovered, frames flow again; seconds until the idle timer also tracks
    every recovered session)."""
    port = free_port()
    env = {**env, "INTERAREC_SUMMARIZER_PORT": str(port)}
    log = open(Path(env["INTERAREC_VAR_DIR"]) / "summarizer.log", "ab")  # noqa: SIM115
    started, ready_after = time.monotonic(), None
    proc = subprocess.Popen([sys.executable, "-m", "services.summarizer"], cwd=REPO_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - started < timeout_s:
                if proc.poll() is not None:
                    raise RuntimeError(f"summarizer exited with {proc.returncode}; see {log.name}")
                try:
                    ready = client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
                    metrics = client.get(f"http://127.0.0.1:{port}/metrics").text if ready else ""
                except httpx.HTTPError:
                    ready, metrics = False, ""
                if ready and ready_after is None:
                    ready_after = time.monotonic() - started
                m = re.search(r"^interarec_summarizer_sessions (\S+)$", metrics, re.M)
                if ready and m and int(float(m.group(1))) >= expect_sessions:
                    return ready_after, time.monotonic() - started
                time.sleep(0.1)
        raise TimeoutError(f"not ready with {expect_sessions} sessions after {timeout_s} s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # like a crashed pod: no clean shutdown
        proc.wait(30)
        log.close()


def run(bootstrap: str, sessions: int, catalog: Path, work: Path) -> None:
    apply_topics(bootstrap)
    base = {k: v for k, v in os.environ.items() if not k.startswith("INTERAREC_")}
    base.update({"INTERAREC_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "INTERAREC_CATALOG_PATH": str(catalog),
                 "PYTHONUNBUFFERED": "1"})

    def env(store: str, name: str) -> dict:
        var = work / name
        var.mkdir(parents=True, exist_ok=True)
        return {**base, "INTERAREC_STATE_STORE": store, "INTERAREC_VAR_DIR": str(var)}

    def report(label: str, figures: tuple[float, float]) -> None:
        print(f"{label}: ready (processing) after {figures[0]:.1f} s, idle timer tracking all sessions after "
              f"{figures[1]:.1f} s", flush=True)

    report("baseline, empty table", time_to_ready(env("rocksdb", "baseline"), 0))
    avg = fill_changelog(bootstrap, sessions)
    print(f"wrote {sessions} sessions to {CHANGELOG} ({avg} bytes of state each)", flush=True)
    report("rocksdb, cold (full changelog read)", time_to_ready(env("rocksdb", "rocks"), sessions))
    report("rocksdb, warm restart after SIGKILL", time_to_ready(env("rocksdb", "rocks"), sessions))
    report("memory store (full changelog read)", time_to_ready(env("memory", "memory"), sessions))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench.bench_recovery", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--bootstrap", help="use this broker (default: start a throwaway one)")
    args = parser.parse_args(argv)
    from services.common.demo_catalog import generate

    with tempfile.TemporaryDirectory(prefix="interarec-bench-") as tmp:
        work = Path(tmp)
        catalog = generate(work / "catalog")
        if args.bootstrap:
            run(args.bootstrap, args.sessions, catalog, work)
            return 0
        port, controller = kb.free_ports(2)
        with kb.started(work / "kafka", port=port, controller_port=controller) as b:
            run(b.bootstrap, args.sessions, catalog, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
