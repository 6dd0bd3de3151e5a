"""Throughput of one summarizer replica's model path against a slow OpenAI-compatible server.

    python -m infra.bench.bench_vllm [--sessions 50] [--windows 6] [--delay 1.0] [--server-concurrency 32]

The server is the replay server (recorded vLLM envelopes) answering every call after a fixed delay and
serving at most --server-concurrency calls at once, so its own limit is concurrency / delay windows/s. The
replica side is what the worker runs per closed window: OrderedDispatcher (sessions concurrent, each
session's windows in order) -> VllmSummarizer (prompt, two frames as data URLs, JSON-schema answer,
validation, grounding) -> LlmClient (AsyncOpenAI, in-flight cap) -> a serialised BehaviourSummary. Kafka and
OCR are not part of it (their costs are measured elsewhere). Prints windows/s and its ratio to the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PIL import Image  # noqa: E402

from infra.llm_replay.server import ReplayServer, ReplayState  # noqa: E402
from services.common.catalog import Catalog, Product  # noqa: E402
from services.common.demo_catalog import build_rows  # noqa: E402
from services.common.llm import LlmClient, LlmSettings  # noqa: E402
from services.core.reading.vllm_backend import VllmSummarizer, data_url, summarize_window  # noqa: E402
from services.core.reading.window import ClosedWindow  # noqa: E402
from services.summarizer.dispatch import OrderedDispatcher  # noqa: E402


async def bench(url: str, catalog: Catalog, sessions: int, windows: int, in_flight: int) -> dict:
    client = LlmClient(LlmSettings(base_url=url, model="tiny-vlm", timeout_s=30, max_in_flight=in_flight), "bench")
    backend = VllmSummarizer(client, catalog)
    dispatcher = OrderedDispatcher(in_flight)
    frames = [data_url(Image.new("RGB", (1280, 800), (i * 60, 120, 200)), 640 * 400) for i in range(2)]
    order: dict[str, list[int]] = {}
    outcomes: dict[str, int] = {}

    def job(sid: str, seq: int):
        async def run():
            w = ClosedWindow(window_seq=seq, reason="frames", page_url="http://shop/p/x", frame_seqs=[1, 2],
                             first_capture_ms=0, last_capture_ms=0, opened_ms=0, closed_ms=0, observations=[],
                             history=[], dropped_duplicates=0)
            summary = await summarize_window(backend, sid, "demo", w, frames, catalog)
            summary.SerializeToString()
            order.setdefault(sid, []).append(seq)
            outcomes[summary.backend] = outcomes.get(summary.backend, 0) + 1
        return run

    started = time.monotonic()
    for seq in range(1, windows + 1):
        for s in range(sessions):
            dispatcher.submit(f"s{s}", seq, job(f"s{s}", seq))
    await dispatcher.drain()
    elapsed = time.monotonic() - started
    await client.close()
    in_order = all(v == list(range(1, windows + 1)) for v in order.values()) and len(order) == sessions
    return {"elapsed": elapsed, "outcomes": outcomes, "peak": dispatcher.peak_in_flight, "in_order": in_order}


def serve(state: ReplayState, urls, stop) -> None:
    with ReplayServer(state) as server:
        urls.put(server.url)
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--windows", type=int, default=6, help="windows per session")
    parser.add_argument("--delay", type=float, default=1.0, help="server delay per call, seconds")
    parser.add_argument("--server-concurrency", type=int, default=32, help="calls the server serves at once")
    parser.add_argument("--in-flight", type=int, default=64, help="the replica's cap on model calls in flight")
    args = parser.parse_args()

    catalog = Catalog([Product(**row) for row in build_rows()])  # the demo catalog, without its images
    p0 = catalog.products[0]
    answer = json.dumps({"product_types": [p0.category], "price_low": None, "price_high": None,
                         "brands": [p0.brand], "colours": [p0.colour], "specifications": [], "ratings_seen": [],
                         "read_reviews": False, "viewed_products": [p0.title], "comparisons": [], "promotions": [],
                         "search_queries": [], "narrative": "bench"})
    state = ReplayState(delay_s=args.delay, max_concurrency=args.server_concurrency, content=answer,
                        keep_requests=False)
    # The model server is another process, as in production: it must not share this replica's CPU time slice.
    urls: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(state, urls, stop), daemon=True)
    server.start()
    try:
        r = asyncio.run(bench(urls.get(timeout=60), catalog, args.sessions, args.windows, args.in_flight))
    finally:
        stop.set()
        server.join(10)
    total = args.sessions * args.windows
    rate = total / r["elapsed"]
    limit = args.server_concurrency / args.delay
    bound = min(limit, args.sessions / args.delay, args.in_flight / args.delay)
    print(f"{total} windows from {args.sessions} sessions in {r['elapsed']:.2f} s: {rate:.1f} windows/s")
    print(f"server limit {limit:.1f} windows/s ({args.server_concurrency} at once, {args.delay:g} s each): "
          f"ratio {rate / limit:.2f}; best possible here {bound:.1f}/s (ratio {rate / bound:.2f})")
    print(f"peak windows in flight {r['peak']}, outcomes {r['outcomes']}, every session in window order: "
          f"{r['in_order']}")


if __name__ == "__main__":
    main()
