"""Gateway throughput against the raw producer, on the same broker in the same run: prints both rates and
their ratio (with the 429 counts) at a few client concurrencies. The yardstick (issue 18) is the raw
kafka-python producer; a raw librdkafka producer (the gateway's own client library) is measured beside it, and
the gateway's rate is given as a ratio to both.

    python -m infra.bench.gateway_bench [--frames 600] [--concurrency 8,32] [--workers 1,2] [--bootstrap h:p]
        [--variant LABEL:NAME=VALUE,...] [--baseline DIR [--baseline-block uvloop,httptools]]

Frames: distinct 150-200 KB JPEG screenshots (the repo's recorded shop screens, upscaled to 1600x1000 and
saved at quality 90), each posted once to its own session (no duplicates, so every frame is validated and
written). The raw producer sends the same bytes with the gateway's producer settings (acks=all, idempotent,
its batch size and linger), all at once, and waits for every acknowledgement (the ratio's yardstick); the
last column sends them with at most as many unacknowledged as there are clients, the most a gateway whose
clients each wait for their 202 could pipeline. The gateway runs as its own process
(`python -m services.gateway`), its tenant rate limit out of the way; the clients are plain HTTP/1.1
keep-alive connections on asyncio in this process. On a shared 2-core machine the broker, the gateway and
the clients compete for the same cores: the ratio, measured in one run, and the CPU per frame are the
figures to compare, not the absolute rates. The last column is the ratio the CPU per frame of the two paths
allows when the cores are the bottleneck: (raw producer + broker) / (gateway + broker + bench client).
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
from collections import Counter, deque
from pathlib import Path

import httpx
from PIL import Image

from services.common.config import REPO_ROOT
from services.common.kafka_security import kafka_python_kwargs
from services.common.rdkafka_producer import producer_config
from services.common.tenants import hash_key
from services.common.topics import FRAMES, apply_topics
from services.gateway.app import PRODUCER_BATCH_BYTES
from services.gateway.settings import GatewaySettings

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


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def family(pid: int) -> list[int]:
    """pid and its child processes (uvicorn's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]


def raw_producer_rate(bootstrap: str, frames: list[bytes], in_flight: int | None = None) -> tuple[float, float]:
    """(frames/s, CPU ms per frame of this process: the producer's own thread included). in_flight: at most this
    many frames unacknowledged at once, as with that many HTTP clients each waiting for its 202 (None: all)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=GatewaySettings().linger_ms, batch_size=PRODUCER_BATCH_BYTES,
                             max_request_size=4 * 1024 * 1024, **kafka_python_kwargs())
    producer.send(FRAMES.name, key=b"warm", value=frames[0]).get(30)
    run = uuid.uuid4().hex[:6]
    window = in_flight or len(frames)
    started, cpu = time.perf_counter(), time.process_time()
    pending: deque = deque()
    for i, f in enumerate(frames):
        if len(pending) >= window:
            pending.popleft().get(60)
        pending.append(producer.send(FRAMES.name, key=f"bench/raw-{run}-{i}".encode(), value=f))
    for f in pending:
        f.get(60)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    producer.close()
    return len(frames) / elapsed, cpu * 1000 / len(frames)


def raw_librdkafka_rate(bootstrap: str, frames: list[bytes]) -> tuple[float, float]:
    """(frames/s, CPU ms per frame of this process, librdkafka's threads included): the same frames through a
    plain librdkafka producer with the gateway's settings (services/common/rdkafka_producer.producer_config),
    all at once; a full queue (32 MiB, as kafka-python's buffer) waits as kafka-python's send() would."""
    from confluent_kafka import Producer

    producer = Producer(producer_config(bootstrap, "bench-raw-librdkafka", max_request_size=4 * 1024 * 1024,
                                        batch_bytes=PRODUCER_BATCH_BYTES, linger_ms=GatewaySettings().linger_ms,
                                        buffer_bytes=32 * 1024 * 1024, delivery_timeout_s=60))
    producer.produce(FRAMES.name, value=frames[0], key=b"warm")
    producer.flush(30)
    failed: list[str] = []

    def delivered(err, _msg) -> None:
        if err is not None:
            failed.append(err.name())

    run = uuid.uuid4().hex[:6]
    started, cpu = time.perf_counter(), time.process_time()
    for i, f in enumerate(frames):
        while True:
            try:
                producer.produce(FRAMES.name, value=f, key=f"bench/rd-{run}-{i}".encode(), on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    left = producer.flush(60)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if left or failed:
        raise RuntimeError(f"raw librdkafka producer: {left} frames not acknowledged, failures {set(failed)}")
    return len(frames) / elapsed, cpu * 1000 / len(frames)


async def post_all(url: str, frames: list[bytes], concurrency: int) -> tuple[float, Counter, float]:
    """(accepted frames/s, answers by status, this client's CPU ms per frame). A minimal keep-alive HTTP/1.1
    client on asyncio streams: httpx costs more CPU per request than the gateway does, so it would measure
    itself."""
    host, port = url.removeprefix("http://").split(":")
    run = uuid.uuid4().hex[:6]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(frames)):
        queue.put_nowait(i)
    statuses: Counter = Counter()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while not queue.empty():
            i = queue.get_nowait()
            head = (f"POST /v1/sessions/b{run}-{i}/frames HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n"
                    f"Content-Type: image/jpeg\r\nX-Frame-Seq: {i}\r\nContent-Length: {len(frames[i])}\r\n\r\n")
            writer.write(head.encode() + frames[i])
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            statuses[status] += 1
        writer.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    metrics = httpx.get(f"{url}/metrics").text
    ack = {ln.split()[0]: float(ln.split()[1]) for ln in metrics.splitlines()
           if ln.startswith("interarec_gateway_broker_ack_seconds_")}
    ack_ms = ack.get("interarec_gateway_broker_ack_seconds_sum", 0) * 1000 / max(1, ack.get(
        "interarec_gateway_broker_ack_seconds_count", 0))
    print(f"  {concurrency} clients: {elapsed:.1f} s (load average {os.getloadavg()[0]:.1f}), "
          f"request {elapsed * concurrency * 1000 / len(frames):.0f} ms on average, of which broker ack "
          f"{ack_ms:.0f} ms (mean since the gateway started)", flush=True)
    return statuses[202] / elapsed, statuses, cpu * 1000 / len(frames)


def start_gateway(bootstrap: str, port: int, workers: int, extra_env: dict[str, str],
                  prefix: list[str], checkout: Path = REPO_ROOT, block: tuple[str, ...] = ()) -> subprocess.Popen:
    """`python -m services.gateway` of `checkout` (another one: a baseline in the same run); `block`: modules
    made unimportable in it (a checkout from before uvloop and httptools were dependencies ran without them,
    and uvicorn's "auto" would pick them up)."""
    command = ["-m", "services.gateway"]
    if block:
        command = ["-c", f"import runpy, sys; sys.modules.update(dict.fromkeys({list(block)!r})); "
                         "runpy.run_module('services.gateway', run_name='__main__', alter_sys=True)"]
    env = {**os.environ, "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "INTERAREC_GATEWAY_PORT": str(port),
           "INTERAREC_API_KEYS": f"bench:{hash_key(KEY)}", "INTERAREC_GATEWAY_RATE_PER_S": "1000000",
           "INTERAREC_GATEWAY_RATE_BURST": "10000000", "INTERAREC_GATEWAY_WORKERS": str(workers), **extra_env}
    process = subprocess.Popen([*prefix, sys.executable, *command], env=env, cwd=checkout,
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


def run(bootstrap: str, args: argparse.Namespace, broker_pid: int | None = None) -> None:
    """broker_pid: the broker's process (its CPU per frame is printed), if this machine runs it."""
    sys.path.insert(0, str(REPO_ROOT / "infra" / "kafka"))
    import broker  # infra/kafka/broker.py: free_port

    apply_topics(bootstrap, (FRAMES,))
    frames = make_frames(args.frames)
    sizes = sorted(len(f) for f in frames)
    kb = [n // 1024 for n in (sizes[0], sizes[len(sizes) // 2], sizes[-1])]
    print(f"{len(frames)} frames of {kb[0]}-{kb[2]} KB (median {kb[1]} KB)")
    extra = dict(kv.split("=", 1) for kv in args.env)
    broker_pids = family(broker_pid) if broker_pid else []
    print("| gateway | processes | clients | raw kafka-python frames/s | raw librdkafka frames/s | gateway frames/s "
          "| ratio to kafka-python | ratio to librdkafka | 429s | CPU ms/frame: raw kafka-python | raw librdkafka "
          "| broker (raw kafka-python) | broker (raw librdkafka) | gateway | broker (gateway) | bench client "
          "| raw kafka-python with as many frames in flight as clients | CPU-bound ratio |")
    print("|---" * 18 + "|")
    # (label, processes, checkout, settings, modules blocked)
    runs = [("this checkout", workers, REPO_ROOT, extra, ()) for workers in args.workers]
    for variant in args.variant:
        label, _, settings = variant.partition(":")
        runs.append((label, 1, REPO_ROOT, {**extra, **dict(kv.split("=", 1) for kv in settings.split(","))}, ()))
    if args.baseline:
        block = tuple(m for m in args.baseline_block.split(",") if m)
        runs.append((f"baseline {args.baseline}", 1, Path(args.baseline), extra, block))
    for label, workers, checkout, env, block in runs:
        port = broker.free_port()
        gateway = start_gateway(bootstrap, port, workers, env, args.prefix.split(), checkout, block)
        try:
            asyncio.run(post_all(f"http://127.0.0.1:{port}", frames[:20], 4))  # warm-up: connections, metadata
            for concurrency in args.concurrency:
                # raw before and after the gateway run: the same minutes of a shared machine
                broker_cpu = cpu_s(broker_pids)
                raw1, raw_cpu1 = raw_producer_rate(bootstrap, frames)
                broker_raw1 = cpu_s(broker_pids) - broker_cpu
                cpu, broker_cpu = cpu_s(family(gateway.pid)), cpu_s(broker_pids)
                rate, statuses, client_cpu = asyncio.run(post_all(f"http://127.0.0.1:{port}", frames, concurrency))
                gateway_cpu = (cpu_s(family(gateway.pid)) - cpu) * 1000 / max(1, statuses[202])
                broker_gw = (cpu_s(broker_pids) - broker_cpu) * 1000 / max(1, statuses[202])
                broker_cpu = cpu_s(broker_pids)
                raw2, raw_cpu2 = raw_producer_rate(bootstrap, frames)
                broker_raw = (cpu_s(broker_pids) - broker_cpu + broker_raw1) * 1000 / (2 * len(frames))
                raw, raw_cpu = (raw1 + raw2) / 2, (raw_cpu1 + raw_cpu2) / 2
                broker_cpu = cpu_s(broker_pids)
                rd, rd_cpu = raw_librdkafka_rate(bootstrap, frames)
                broker_rd = (cpu_s(broker_pids) - broker_cpu) * 1000 / len(frames)
                windowed, _ = raw_producer_rate(bootstrap, frames, concurrency)
                others = {s: n for s, n in statuses.items() if s not in (202, 429)}
                print(f"| {label} | {workers} | {concurrency} | {raw:.0f} | {rd:.0f} | {rate:.0f} | {rate / raw:.2f} "
                      f"| {rate / rd:.2f} | {statuses[429]} | {raw_cpu:.1f} | {rd_cpu:.1f} "
                      f"| {ms(broker_raw, broker_pids)} | {ms(broker_rd, broker_pids)} | {gateway_cpu:.1f} "
                      f"| {ms(broker_gw, broker_pids)} | {client_cpu:.1f} | {windowed:.0f} "
                      f"| {cpu_bound_ratio(raw_cpu + broker_raw, gateway_cpu + broker_gw + client_cpu, broker_pids)} |"
                      + (f" other statuses: {others}" if others else ""), flush=True)
        finally:
            gateway.send_signal(signal.SIGINT)  # a profiler prefix writes its report on SIGINT
            gateway.wait(30)


def cpu_bound_ratio(raw_path_ms: float, gateway_path_ms: float, measured: list[int]) -> str:
    """The ratio the two paths' machine CPU per frame allow when the shared cores are the bottleneck: the raw
    path is the producer and the broker, the gateway path the gateway, the broker and the bench client."""
    return f"{raw_path_ms / gateway_path_ms:.2f}" if measured and gateway_path_ms else "-"


def ms(value: float, measured: list[int]) -> str:
    return f"{value:.1f}" if measured else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra gateway setting, e.g. INTERAREC_GATEWAY_MAX_DECODES=8")
    parser.add_argument("--prefix", default="", help="run the gateway under this command, e.g. "
                        "'py-spy record --format speedscope -o gw.json --subprocesses --' to see where its time goes")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:NAME=VALUE,...",
                        help="also measure this checkout's gateway (1 process) with these settings, e.g. "
                        "'asyncio-h11:INTERAREC_GATEWAY_LOOP=asyncio,INTERAREC_GATEWAY_HTTP=h11'")
    parser.add_argument("--baseline", help="also measure the gateway of this checkout (e.g. a worktree of main)")
    parser.add_argument("--baseline-block", default="", metavar="MODULES",
                        help="modules the baseline cannot import, e.g. uvloop,httptools for a checkout from "
                        "before they were dependencies (its uvicorn would pick them up)")
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
            run(b.bootstrap, args, b.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
