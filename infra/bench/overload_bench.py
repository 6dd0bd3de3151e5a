"""Capture-to-recommendation latency under twice the load the summarizer can read, with and without latest wins.

    python -m infra.bench.overload_bench [--sessions var/eval/sessions/classic] [--load 2.0] [--seconds 60]
                                         [--shoppers N] [--modes on no-turns off on:LOOKAHEAD=128 ...]
                                         [--set NAME=VALUE ...]
                                         [--outage-at S --outage S]

Simulated shoppers replay captured shopper sessions (`interarec eval capture` saves them: real demo-shop
screenshots with their page URLs and timing, ~2 frames/s, page changes and dwells included), each under a new
session id, straight onto the frames topic of a throwaway single-node broker (the gateway is not under test).
The real summarizer, decomposer and optimizer processes run on it; a consumer reads the recommendations and
the summaries. For each mode (a fresh broker and stack each, so no backlog carries over):

  on   latest wins as by default (services/summarizer/latest.py; `--set NAME=VALUE` overrides a summarizer
       setting, e.g. the lag target INTERAREC_SUMMARIZER_MAX_WAIT_MS): older frames of a page visit waiting
       behind a newer one, frames of an already read visit once they waited over 1.5 s, and, when reading every
       visit would keep the summarizer behind its lag target, a session's older visits waiting behind its newer
       one are skipped unread and accounted; and when even each session's newest frame does not fit, sessions
       take turns: the newest frames of the sessions read most recently wait for the next batch (held, then read
       there unless a newer frame of the session supersedes them)
  no-turns  as `on` with INTERAREC_SUMMARIZER_TAKE_TURNS=off: every session's newest frame is read in each batch
       (the rule before sessions took turns)
  off  INTERAREC_SUMMARIZER_LOOKAHEAD=1, _STALE_MS=0, _MAX_WAIT_MS=0: every frame is read in order

A mode may carry settings of its own after a colon, `on:LOOKAHEAD=128,MAX_WAIT_MS=1000` (INTERAREC_SUMMARIZER_
is prepended to a bare name), so two variants of a rule are compared in the same run.

it prints capture-to-recommendation p50/p95/max over the recommendations built from frames captured during the
load (after a warm-up), how many frames were read or skipped, whether every produced frame is in a
summary's accounting (frame_offsets) once the stack drained, and how many of the product pages the shoppers
opened reached their session's summaries (`seen_product_ids`), of all and of each session's last one: what
skipping cost in views. `--outage-at 20 --outage 15` SIGKILLs the summarizer 20 s into the load and starts it
again 15 s later, so its restart finds a backlog (a crash or an outage).

The sustainable load is calibrated in the same run: the summarizer's reader times the frames a shopper's
windows read (OCR + grounding) plus the decode and hash of every frame; one OCR thread then serves
1 / (CPU seconds per shopper-second) shoppers, and `--load 2` drives twice that (or `--shoppers N`). The shared
2-core machine makes every figure noisy: compare the two modes of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from interarec.v1 import frames_pb2, recommendations_pb2, summaries_pb2
from services.common import config
from services.common.catalog import Catalog
from services.common.kafka_security import kafka_python_kwargs
from services.common.keys import session_key
from services.common.topics import FRAMES, RECOMMENDATIONS, SUMMARIES, apply_topics, session_partition
from services.core.reading.imaging import decode_image, dhash
from services.core.reading.reader import FrameReader
from services.core.reading.window import FrameMeta, SessionState, add_frame, should_process

TENANT = "demo"
MODES = {"no-turns": {"INTERAREC_SUMMARIZER_TAKE_TURNS": "off"}}  # besides on (as configured) and off
WARMUP_S = 10.0
STAGGER_MS = 5_000


@dataclass
class Recorded:
    name: str
    frames: list[tuple[int, str, bytes]]  # (ms since the session's first frame, page URL, JPEG)


def load_sessions(root: Path) -> list[Recorded]:
    out = []
    for d in sorted(p for p in root.iterdir() if (p / "frames.jsonl").exists()):
        rows = [json.loads(line) for line in (d / "frames.jsonl").read_text().splitlines() if line.strip()]
        rows.sort(key=lambda r: (r["capture_ms"], r["seq"]))
        if rows:
            t0 = rows[0]["capture_ms"]
            out.append(Recorded(d.name, [(r["capture_ms"] - t0, r["url"], (d / r["file"]).read_bytes()) for r in rows]))
    return out


def calibrate(sessions: list[Recorded], catalog: Catalog) -> float:
    """CPU seconds the summarizer spends per second of one shopper's browsing (reads + decode/hash of every frame)."""
    reader = FrameReader(catalog)
    busy = total = 0.0
    for rec in sessions[:3]:
        state = SessionState()
        for i, (t, url, jpeg) in enumerate(rec.frames):
            started = time.perf_counter()
            image = decode_image(jpeg)
            h = dhash(image)
            meta = FrameMeta(frame_seq=i, capture_ms=t, page_url=url)
            observation = None
            if should_process(state, meta, h):
                observation = reader.observe(image, page_url=url, frame_seq=i, capture_ms=t)
            add_frame(state, meta, h, observation, t)
            busy += time.perf_counter() - started
        total += rec.frames[-1][0] / 1000 + 0.5
    return busy / total


@dataclass
class Outcome:
    produced: dict[tuple[int, int], str] = field(default_factory=dict)  # (partition, offset) -> session
    latencies: list[tuple[int, float]] = field(default_factory=list)  # (capture ms, seconds to recommendation)
    accounted: set[tuple[int, int]] = field(default_factory=set)
    skipped: int = 0
    read: int = 0
    last_summary: float = 0.0
    metrics: str = ""
    lag: dict[str, float | None] = field(default_factory=dict)  # input lag p95 per stage (bucket bound), s
    opened: dict[str, list[str]] = field(default_factory=dict)  # session -> product pages produced, in order
    seen: dict[str, set[str]] = field(default_factory=dict)  # session -> products its summaries saw
    windows: dict[tuple[str, int], str] = field(default_factory=dict)  # (session, window_seq) -> why it closed
    recommended: list[tuple[int, float, str, int]] = field(default_factory=list)  # + (session, window_seq)


def produce(bootstrap: str, sessions: list[Recorded], shoppers: int, seconds: float, start: float,
            outcome: Outcome, run: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_request_size=4 << 20,
                             **kafka_python_kwargs())
    # every shopper replays a recorded session from a staggered start, looping with a new session id
    schedule = []
    for i in range(shoppers):
        rec = sessions[i % len(sessions)]
        length = rec.frames[-1][0] + 1000
        offset = i * STAGGER_MS / shoppers  # shoppers arrive over the first seconds
        loop = 0
        while offset + loop * length < seconds * 1000:
            for t, url, jpeg in rec.frames:
                at = offset + loop * length + t
                if at < seconds * 1000:
                    schedule.append((at, f"{run}-{i}-{loop}", url, jpeg))
            loop += 1
    schedule.sort(key=lambda s: s[0])
    futures = []
    for _, sid, url, _ in schedule:  # the demo shop's product pages are /p/<id>: the bench knows its shop
        path = urlsplit(url).path
        if path.startswith("/p/") and (pid := path[3:].strip("/")):
            opened = outcome.opened.setdefault(sid, [])
            if not opened or opened[-1] != pid:
                opened.append(pid)
    for at, sid, url, jpeg in schedule:
        delay = start + at / 1000 - time.time()
        if delay > 0:
            time.sleep(delay)
        capture_ms = int(time.time() * 1000)
        frame = frames_pb2.Frame(session_id=sid, tenant=TENANT, capture_unix_ms=capture_ms, page_url=url,
                                 mime_type="image/jpeg", image=jpeg)
        frame.trace.capture_unix_ms = capture_ms
        key = session_key(TENANT, sid)
        futures.append((sid, producer.send(FRAMES.name, key=key.encode(), value=frame.SerializeToString(),
                                           partition=session_partition(key, FRAMES.partitions))))
    producer.flush()
    for sid, fut in futures:
        md = fut.get(timeout=30)
        outcome.produced[(md.partition, md.offset)] = sid
    producer.close()


def consume(bootstrap: str, outcome: Outcome, stop: threading.Event) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             max_partition_fetch_bytes=8 << 20, **kafka_python_kwargs())
    consumer.assign([TopicPartition(t, p) for t in (RECOMMENDATIONS.name, SUMMARIES.name)
                     for p in range(RECOMMENDATIONS.partitions)])
    while not stop.is_set():
        for tp, records in consumer.poll(timeout_ms=200).items():
            now = time.time()
            for r in records:
                if tp.topic == RECOMMENDATIONS.name:
                    rec = recommendations_pb2.Recommendation.FromString(r.value)
                    outcome.latencies.append((rec.trace.capture_unix_ms, now - rec.trace.capture_unix_ms / 1000))
                    outcome.recommended.append((*outcome.latencies[-1], rec.session_id, rec.window_seq))
                else:
                    s = summaries_pb2.BehaviourSummary.FromString(r.value)
                    outcome.accounted |= {(s.frames_partition, o) for o in s.frame_offsets}
                    outcome.skipped += s.frames_skipped_stale
                    outcome.read += s.frames_in_window
                    outcome.seen.setdefault(s.session_id, set()).update(s.seen_product_ids)
                    outcome.windows[(s.session_id, s.window_seq)] = s.window_close_reason
                    outcome.last_summary = now
    consumer.close()


def _metrics(port: int) -> str:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        return f"# metrics unavailable: {exc}"


def _counters(text: str) -> str:
    keep = ("interarec_summarizer_frames_total{", "interarec_summarizer_windows_total{")
    return "; ".join(line for line in text.splitlines() if line.startswith(keep))


def lag_p95(text: str, service: str) -> float | None:
    """p95 of a stage's input lag (interarec_<service>_input_lag_seconds), the bucket bound it falls under."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(f"interarec_{service}_input_lag_seconds_bucket{{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), float(line.rsplit(" ", 1)[1])))
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(b for b, count in sorted(buckets) if count >= 0.95 * total)


def parse_mode(text: str) -> tuple[str, dict[str, str]]:
    """`on`, `no-turns`, `off`, optionally with `:NAME=VALUE,...` (summarizer settings; the prefix may be left out)."""
    base, _, extra = text.partition(":")
    if base not in ("on", "no-turns", "off"):
        raise argparse.ArgumentTypeError(f"unknown mode {text!r}: on, no-turns or off, optionally :NAME=VALUE,...")
    env = {}
    for item in filter(None, extra.split(",")):
        name, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"mode {text!r}: {item!r} is not NAME=VALUE")
        env[name if name.startswith("INTERAREC_") else f"INTERAREC_SUMMARIZER_{name}"] = value
    return text, env


def run_mode(mode: str, sessions: list[Recorded], shoppers: int, seconds: float, work: Path,
             catalog_path: Path, settings: dict[str, str] | None = None,
             outage: tuple[float, float] | None = None, run: str = "") -> Outcome:
    sys.path.insert(0, str(config.REPO_ROOT / "infra" / "kafka"))
    import broker as kb  # infra/kafka/broker.py

    from infra.local.stack import Ports, Stack

    port, controller = kb.free_ports(2)
    outcome = Outcome()
    base, own = parse_mode(mode)
    run = run or base
    with kb.started(work / f"kafka-{run}", port=port, controller_port=controller) as b:
        apply_topics(b.bootstrap)
        # off: every frame read in order, nothing skipped; on: the defaults
        env = ({"INTERAREC_SUMMARIZER_LOOKAHEAD": "1", "INTERAREC_SUMMARIZER_STALE_MS": "0",
                "INTERAREC_SUMMARIZER_MAX_WAIT_MS": "0"} if base == "off"
               else {**(settings or {}), **MODES.get(base, {})})
        env.update(own)
        stack = Stack(bootstrap=b.bootstrap, catalog_path=catalog_path, log_dir=work / f"logs-{run}",
                      var_dir=work / f"var-{run}", ports=Ports(*kb.free_ports(6)), extra_env=env)
        stack.start(progress=lambda line: None, only=("summarizer", "decomposer", "optimizer"))
        stop = threading.Event()
        reader = threading.Thread(target=consume, args=(b.bootstrap, outcome, stop), daemon=True)
        reader.start()
        try:
            start = time.time() + 1
            if outage:
                threading.Thread(target=_outage, args=(stack, start, *outage), daemon=True).start()
            produce(b.bootstrap, sessions, shoppers, seconds, start, outcome, run)
            # drain: until every frame is accounted, or nothing new for 20 s, at most 120 s
            deadline = time.time() + 120
            while time.time() < deadline:
                if set(outcome.produced) <= outcome.accounted:
                    break
                if outcome.last_summary and time.time() - outcome.last_summary > 20:
                    break
                time.sleep(1)
            time.sleep(3)  # the last recommendations
        finally:
            stop.set()
            reader.join(timeout=10)
            texts = {svc: _metrics(port) for svc, port in (("summarizer", stack.ports.summarizer),
                                                          ("decomposer", stack.ports.decomposer),
                                                          ("optimizer", stack.ports.optimizer))}
            outcome.metrics = _counters(texts["summarizer"])
            outcome.lag = {svc: lag_p95(text, svc) for svc, text in texts.items()}
            stack.stop()
        outcome.latencies = [(c, s) for c, s in outcome.latencies if c / 1000 >= start + WARMUP_S]
        outcome.recommended = [r for r in outcome.recommended if r[0] / 1000 >= start + WARMUP_S]
    return outcome


def _outage(stack, start: float, at_s: float, down_s: float) -> None:
    """SIGKILL the summarizer `at_s` into the load, start it again `down_s` later (its frames keep coming)."""
    time.sleep(max(0.0, start + at_s - time.time()))
    stack.kill("summarizer")
    time.sleep(down_s)
    stack.spawn("summarizer")


def views(o: Outcome) -> str:
    """Product pages opened that reached the session's summaries: of all, and of each session's last one."""
    opened = sum(len(set(p)) for p in o.opened.values())
    seen = sum(len(set(p) & o.seen.get(sid, set())) for sid, p in o.opened.items())
    last = sum(p[-1] in o.seen.get(sid, set()) for sid, p in o.opened.items() if p)
    return f"{seen} / {opened}, last {last} / {sum(bool(p) for p in o.opened.values())}"


def by_reason(o: Outcome) -> str:
    """Recommendations' p95 by why their summary's window closed: a window closed idle or by a page change waited
    for the shopper (idle time, dwell), not only for the summarizer."""
    groups: dict[str, list[float]] = {}
    for _, seconds, sid, seq in o.recommended:
        groups.setdefault(o.windows.get((sid, seq), "?"), []).append(seconds)
    return "; ".join(f"{reason} {len(v)}: p50 {pct(v, 0.5):.2f} p95 {pct(v, 0.95):.2f} s"
                     for reason, v in sorted(groups.items()))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default=str(config.var_dir() / "eval" / "sessions" / "classic"))
    parser.add_argument("--load", type=float, default=2.0, help="multiple of the calibrated sustainable load")
    parser.add_argument("--shoppers", type=int, default=0, help="fixed number of shoppers instead of --load")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--verbose", action="store_true", help="the summarizer's frame counters, frames missing")
    parser.add_argument("--modes", nargs="+", default=["on", "off"], type=lambda t: parse_mode(t)[0],
                        help="on, no-turns, off, each optionally with :NAME=VALUE,... of its own")
    parser.add_argument("--outage-at", type=float, default=0.0, help="SIGKILL the summarizer this far into the load")
    parser.add_argument("--outage", type=float, default=0.0, help="seconds it stays down (0: no outage)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="on, no-turns: a summarizer setting other than its default (repeatable)")
    args = parser.parse_args(argv)
    sessions = load_sessions(Path(args.sessions))
    if not sessions:
        print(f"no captured sessions under {args.sessions}: run `python -m services.eval capture` first",
              file=sys.stderr)
        return 2
    catalog_path = config.catalog_path()
    catalog = Catalog.load(catalog_path)
    per_shopper = calibrate(sessions, catalog)
    sustainable = 1 / per_shopper
    shoppers = args.shoppers or max(1, round(args.load * sustainable))
    print(f"calibration: {per_shopper:.3f} CPU s per shopper-second -> {sustainable:.1f} shoppers sustainable on "
          f"one OCR thread; driving {shoppers} shoppers ({shoppers / sustainable:.1f}x) for {args.seconds:.0f} s")
    print("\n| latest wins | recommendations | capture->recommendation p50 / p95 / max s | frames produced | "
          "accounted | skipped unread | read | product views in summaries | "
          "input lag p95 s: summarizer / decomposer / optimizer | load average 1 min before / after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="interarec-overload-") as tmp:
        if args.verbose:
            tmp = tempfile.mkdtemp(prefix="interarec-overload-")  # kept: the services' logs are in it
            print(f"  work directory (logs): {tmp}")
        for i, mode in enumerate(args.modes):
            load_before = os.getloadavg()[0]
            o = run_mode(mode, sessions, shoppers, args.seconds, Path(tmp), catalog_path,
                         dict(item.split("=", 1) for item in args.set),
                         (args.outage_at, args.outage) if args.outage else None, f"{mode.split(':')[0]}{i}")
            lat = [s for _, s in o.latencies]
            missing = len(set(o.produced) - o.accounted)
            print(f"| {mode} | {len(lat)} | {pct(lat, 0.5):.2f} / {pct(lat, 0.95):.2f} / "
                  f"{max(lat, default=float('nan')):.2f} | {len(o.produced)} | "
                  f"{len(o.produced) - missing} | {o.skipped} | {o.read} | {views(o)} | "
                  f"{' / '.join(f'<= {o.lag.get(s)}' for s in ('summarizer', 'decomposer', 'optimizer'))} | "
                  f"{load_before:.1f} / {os.getloadavg()[0]:.1f} |", flush=True)
            if args.verbose:
                print(f"  summarizer: {o.metrics}", flush=True)
                gone = sorted(set(o.produced) - o.accounted)
                print(f"  not accounted: {gone[:20]}", flush=True)
                print(f"  by why the window closed: {by_reason(o)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
