"""`make run`: Kafka, the five services, the demo shop and one scripted shopper, on this machine. The shopper
only browses: the frames come from the demo shop's pages (the capture script, capture-js/).

Prints each new recommendation with the summary that explains it. Ctrl-C stops everything it started;
--exit-when-done exits by itself once the shopper's recommendations have arrived (for scripts)."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from typing import IO

import httpx

from infra.local.stack import Stack, StackError, local_stack


def say(msg: str) -> None:
    print(msg, flush=True)


def describe(rec: dict, started: float, previous: dict | None = None) -> str:
    """A recommendation as the console shows it; items identical to the previous one are not repeated."""
    summary = rec.get("summary", {})
    cons = rec.get("constraints", {})
    parts = []
    for key, label in (("brands", "brand"), ("categories", "category"), ("colours", "colour")):
        if cons.get(key):
            parts.append(f"{label} in {{{', '.join(cons[key])}}}")
    if "price_min" in cons or "price_max" in cons:
        parts.append(f"price ${cons.get('price_min', 0):.0f}-${cons.get('price_max', 0):.0f}")
    if cons.get("exclude_product_ids"):
        parts.append(f"excluding {len(cons['exclude_product_ids'])} viewed")
    latency = ""
    if rec.get("capture_unix_ms"):
        latency = f", {(time.time() * 1000 - rec['capture_unix_ms']) / 1000:.1f}s after capture"
    lines = [f"\n[{time.time() - started:6.1f}s] recommendation for window {rec['window_seq']} "
             f"({rec['candidates']} candidates, expected revenue ${rec['expected_revenue']:.2f}{latency})",
             f"  why: {summary.get('narrative', '(no summary)')}",
             f"  constraints: {'; '.join(parts) or 'none'}"]
    for rel in rec.get("relaxations", []):
        lines.append(f"  relaxed: {rel.get('constraint')}: {rel.get('reason')}")
    same = previous is not None and [i["product_id"] for i in previous.get("items", [])] == [
        i["product_id"] for i in rec.get("items", [])]
    if same:
        lines.append("  items: unchanged")
        return "\n".join(lines)
    for n, item in enumerate(rec.get("items", []), 1):
        lines.append(f"  {n:>2}. {item['title']:<44} {item['brand']:<10} {item['colour']:<7} "
                     f"${item['price']:>8.2f}  p={item['choice_probability']:.3f}")
    return "\n".join(lines)


def watch(stack: Stack, session_id: str, started: float, latest: dict, stop: threading.Event) -> None:
    """Follow the session's SSE stream and print every new recommendation."""
    url = f"{stack.storefront_url}/v1/sessions/{session_id}/stream"
    while not stop.is_set():
        try:
            with httpx.Client(timeout=httpx.Timeout(5.0, read=30.0), headers={"X-API-Key": stack.api_key}) as client, \
                    client.stream("GET", url) as resp:
                event = None
                for line in resp.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "recommendation":
                        rec = json.loads(line[5:])
                        say(describe(rec, started, latest.get("rec")))
                        latest["rec"] = rec
                        latest["count"] = latest.get("count", 0) + 1
        except httpx.HTTPError:
            stop.wait(1.0)


def acquire_run_lock() -> IO[str]:
    """One `make run` at a time per var dir: an earlier one that is still stopping holds this lock (and the
    broker's data dir and the ports) until its process has exited. The lock lasts as long as the returned file."""
    from services.common import config

    path = config.var_dir() / "run" / "make-run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "a+")  # noqa: SIM115 -- held open for the life of the run
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        pid = lock.read().strip() or "?"
        lock.close()
        raise StackError(f"an earlier `make run` (pid {pid}) is still running or stopping; wait until it has "
                         "exited, then start again") from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM gets the same clean shutdown as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--scenario", default=os.environ.get("SCENARIO", "brand"), choices=["brand", "colour", "price"])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "0")) or None,
                        help="shopper seed (default: random, so each run shows a different hidden preference)")
    parser.add_argument("--exit-when-done", action="store_true", default=os.environ.get("EXIT_WHEN_DONE") == "1",
                        help="exit once the scripted shopper's recommendations arrived (EXIT_WHEN_DONE=1)")
    parser.add_argument("--headed", action="store_true", help="show the shopper's browser (needs a display)")
    args = parser.parse_args(argv)

    from services.common.catalog import Catalog

    try:
        lock = acquire_run_lock()
    except StackError as exc:
        say(f"make run: {exc}")
        return 1
    started = time.time()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        say("== InteraRec: local run ==")
        with local_stack(say, page_capture=True) as stack:
            catalog = Catalog.load(stack.catalog_path)
            say(f"catalog: {len(catalog)} products, {len(catalog.categories)} categories, "
                f"{len(catalog.brands)} brands")
            return show(stack, args, catalog, started, stop)
    except KeyboardInterrupt:
        say("\nstopping ...")
        return 0
    except StackError as exc:
        say(f"\nERROR: {exc}")
        return 1
    finally:
        stop.set()
        say("stopped everything this run started")
        lock.close()


def show(stack: Stack, args, catalog, started: float, stop: threading.Event) -> int:
    """Point the developer at what runs, let the scripted shopper browse, and print its recommendations."""
    ready_at = time.time()
    run_name = f"demo-{uuid.uuid4().hex[:8]}"
    say("\nOpen these while the shopper browses:")
    say(f"  demo shop (your own session and panel):   {stack.shop_url}/")
    say(f"  storefront API docs (OpenAPI):  {stack.storefront_url}/docs")
    ports = stack.ports
    say(f"  metrics: gateway :{ports.gateway}/metrics, summarizer :{ports.summarizer}/metrics, "
        f"decomposer :{ports.decomposer}/metrics, optimizer :{ports.optimizer}/metrics, "
        f"storefront :{ports.storefront}/metrics")

    latest: dict = {}

    def follow(session_id: str) -> None:
        """The shop issued the shopper's session (the page's frames carry it): watch that one."""
        say(f"  the shopper's latest recommendation (JSON): curl -H 'X-API-Key: {stack.api_key}' "
            f"{stack.storefront_url}/v1/sessions/{session_id}/recommendations")
        say(f"  its live stream (SSE):          curl -N -H 'X-API-Key: {stack.api_key}' "
            f"{stack.storefront_url}/v1/sessions/{session_id}/stream")
        threading.Thread(target=watch, args=(stack, session_id, started, latest, stop), daemon=True).start()

    from services.shoppers.shopper import run_shopper

    say(f"\nscripted shopper '{run_name}' starts browsing (scenario: {args.scenario}) ...")
    seed = args.seed if args.seed is not None else random.randrange(1, 10_000)
    result = asyncio.run(run_shopper(stack.shop_url, stack.gateway_url, stack.api_key, run_name,
                                     args.scenario, catalog, seed=seed, headless=not args.headed,
                                     progress=lambda line: say(f"  shopper: {line}"), page_capture=True,
                                     on_session=follow))
    say(f"\nshopper done: hidden preference = {result.preference.describe()}; opened "
        f"{len(result.opened_product_ids)} products; frames sent {result.frames_sent}, "
        f"failed {result.frames_failed}")
    if args.exit_when_done:
        return wait_for_final(latest, result, catalog, ready_at)
    say("\nserving until Ctrl-C ...")
    while True:
        time.sleep(3600)


def wait_for_final(latest: dict, result, catalog, ready_at: float, timeout_s: float = 60.0) -> int:
    """Wait until a recommendation reflects every product the shopper opened (or time runs out)."""
    deadline = time.time() + timeout_s
    opened = set(result.opened_product_ids)
    while time.time() < deadline:
        rec = latest.get("rec")
        if rec:
            viewed = {v["product_id"] for v in rec.get("summary", {}).get("viewed_products", [])}
            if opened <= viewed:
                break
        time.sleep(0.5)
    rec = latest.get("rec")
    if not rec:
        say("\nFAILED: no recommendation arrived")
        return 1
    items = rec.get("items", [])
    matching = sum(1 for item in items if result.preference.matches(catalog.by_id[item["product_id"]]))
    say(f"\nfinal recommendation: window {rec['window_seq']}, {matching}/{len(items)} items match the hidden "
        f"preference ({result.preference.describe()}); {latest.get('count', 0)} recommendations in "
        f"{time.time() - ready_at:.0f}s since the services were ready")
    return final_exit_code(matching, len(items))


def final_exit_code(matching: int, total: int) -> int:
    """0 when the final recommendation satisfies the shopper: at least SATISFYING_SHARE of its items match the
    hidden preference (the evaluation's definition); 1 otherwise, so scripts notice a wrong recommendation."""
    from services.eval.metrics import SATISFYING_SHARE

    if total and matching / total >= SATISFYING_SHARE:
        return 0
    say(f"FAILED: fewer than {SATISFYING_SHARE:.0%} of the final items match the shopper's preference")
    return 1


if __name__ == "__main__":
    sys.exit(main())
