"""Gateway throughput against the raw producer, on the same broker in the same run: prints both rates and
their ratio (with the 429 counts) at a few client concurrencies.

    python -m infra.bench.gateway_bench [--frames 600] [--concurrency 8,32] [--workers 1,2] [--bootstrap h:p]

Frames: distinct 150-200 KB JPEG screenshots (the repo's recorded shop screens, upscaled to 1600x1000 and
saved at quality 90), each posted once to its own session (no duplicates, so every frame is validated and
written). The raw producer sends the same bytes with the gateway's producer settings (acks=all, idempotent)
and waits for every acknowledgement. The gateway runs as its own process (`python -m services.gateway`), its
tenant rate limit out of the way; the clients are httpx on asyncio in this process. On a shared 2-core machine
the broker, the gateway and the clients compete for the same cores: the ratio, measured in one run, is the
figure to compare, not the absolute rates.
Without --bootstrap a throwaway single-node broker is started (infra/kafka)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from PIL import Image

from services.common.config import REPO_ROOT
from services.common.tenants import hash_key
from services.common.topics import FRAMES, apply_topics

SCREENS = REPO_ROOT / "tests" / "fixtures" / "screens"
KEY = "bench-key"


def make_frames(n: int, size: tuple[int, int] = (1600, 1000), quality: int = 90) -> list[bytes]:
    bases = [Image.open(p).convert("RGB").resize(size) for p in sorted(SCREENS.glob("*.jpg"))]
    out = []
    for i in range(n):
        img = bases[i % len(bases)].copy()
        img.paste((i * 37 % 256, i * 91 % 256, i * 13 % 256), (8 + i % 500, 8, 40 + i % 500, 40))  # distinct
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        out.append(buf.getvalue())
    return out


def raw_producer_rate(bootstrap: str, frames: list[bytes]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
                             max_request_size=4 * 1024 * 1024)
    producer.send(FRAMES.name, key=b"warm", value=frames[0]).get(30)
    run = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    futures = [producer.send(FRAMES.name, key=f"bench/raw-{run}-{i}".encode(), value=f)
               for i, f in enumerate(frames)]
    for f in futures:
        f.get(60)
    elapsed = time.perf_counter() - started
    producer.close()
    return len(frames) / elapsed


async def post_all(url: str, frames: list[bytes], concurrency: int) -> tuple[float, Counter]:
    run = uuid.uuid4().hex[:6]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(frames)):
        queue.put_nowait(i)
    statuses: Counter = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                resp = await client.post(f"/v1/sessions/b{run}-{i}/frames", content=frames[i],
                                         headers={"X-API-Key": KEY, "Content-Type": "image/jpeg",
                                                  "X-Frame-Seq": str(i)})
                statuses[resp.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return statuses[202] / elapsed, statuses


def start_gateway(bootstrap: str, port: int, workers: int, extra_env: dict[str, str],
                  prefix: list[str]) -> subprocess.Popen:
    env = {**os.environ, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "INTERAREC_GATEWAY_PORT": str(port),
           "INTERAREC_API_KEYS": f"bench:{hash_key(KEY)}", "INTERAREC_GATEWAY_RATE_PER_S": "1000000",
           "INTERAREC_GATEWAY_RATE_BURST": "10000000", "INTERAREC_GATEWAY_WORKERS": str(workers), **extra_env}
    process = subprocess.Popen([*prefix, sys.executable, "-m", "services.gateway"], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gateway not ready within 60 s")


def run(bootstrap: str, args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO_ROOT / "infra" / "kafka"))
    import broker as kb  # infra/kafka/broker.py: free_port

    apply_topics(bootstrap, (FRAMES,))
    frames = make_frames(args.frames)
    sizes = sorted(len(f) for f in frames)
    print(f"{len(frames)} frames, {sizes[0] // 1024}-{sizes[-1] // 1024} KB (median {sizes[len(sizes) // 2] // 1024} KB)")
    extra = dict(kv.split("=", 1) for kv in args.env)
    print("| gateway workers | clients | raw producer frames/s | gateway frames/s | ratio | 429s |")
    print("|---|---|---|---|---|---|")
    for workers in args.workers:
        port = kb.free_port()
        gateway = start_gateway(bootstrap, port, workers, extra, args.prefix.split())
        try:
            asyncio.run(post_all(f"http://127.0.0.1:{port}", frames[:20], 4))  # warm-up: connections, metadata
            for concurrency in args.concurrency:
                raw = raw_producer_rate(bootstrap, frames)  # interleaved: the same minute's machine
                rate, statuses = asyncio.run(post_all(f"http://127.0.0.1:{port}", frames, concurrency))
                others = {s: n for s, n in statuses.items() if s not in (202, 429)}
                print(f"| {workers} | {concurrency} | {raw:.0f} | {rate:.0f} | {rate / raw:.2f} | {statuses[429]} |"
                      + (f" other statuses: {others}" if others else ""), flush=True)
        finally:
            gateway.send_signal(signal.SIGINT)  # a profiler prefix writes its report on SIGINT
            gateway.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra gateway setting, e.g. INTERAREC_GATEWAY_MAX_DECODES=8")
    parser.add_argument("--prefix", default="", help="run the gateway under this command, e.g. "
                        "'py-spy record --format speedscope -o gw.json --subprocesses --' to see where its time goes")
    parser.add_argument("--bootstrap", help="use this broker (default: start a throwaway one)")
    args = parser.parse_args(argv)
    if args.bootstrap:
        run(args.bootstrap, args)
        return 0
    sys.path.insert(0, str(REPO_ROOT / "infra" / "kafka"))
    import broker as kb

    with tempfile.TemporaryDirectory(prefix="interarec-gwbench-") as tmp:
        port, controller = kb.free_ports(2)
        with kb.started(Path(tmp) / "kafka", port=port, controller_port=controller) as b:
            run(b.bootstrap, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
