"""Dead letters: build the records (the original bytes kept whole, plus where, why and after how many attempts
processing failed), and a command to list them and replay them to their source topic.

    python -m services.common.deadletters list   [--stage S] [--session tenant/sid] [--since 10m] [--reason R]
    python -m services.common.deadletters replay [same filters] [--dry-run]

Frames are dead-lettered to their own topic (interarec.dead-letters.frames.v1) whose retention is the frames
topic's, so screenshots never outlive it; every other stage uses interarec.dead-letters.v1 (14 days).
A replayed record carries the header `interarec-replay-of: <topic>:<partition>:<offset>` (its original
position) and `interarec-replays: <n>`. Consumers are idempotent for replays: the summarizer accounts a
replayed frame under its original offset and ignores a second replay of it; later stages drop a window_seq
at or below the last one they handled.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from interarec.v1 import dead_letters_pb2
from services.common.kafka_security import kafka_python_kwargs
from services.common.messages import now_ms

REPLAY_OF_HEADER = "interarec-replay-of"
REPLAY_COUNT_HEADER = "interarec-replays"


def dead_letter(*, source_topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                stage: str, error: BaseException, session_id: str = "", reason: str = "", attempts: int = 1,
                replays: int = 0) -> dead_letters_pb2.DeadLetter:
    return dead_letters_pb2.DeadLetter(
        source_topic=source_topic, partition=partition, offset=offset, key=key or b"", value=value or b"",
        stage=stage, error_type=type(error).__name__, error_message=str(error)[:2000],
        failed_unix_ms=now_ms(), session_id=session_id or (key or b"").decode("utf-8", "replace"),
        reason=reason, attempts=attempts, replays=replays,
    )


def header(headers, name: str) -> str | None:
    """A header's value as text; Kafka clients give headers as (name, bytes) pairs or as a mapping."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)
    return None


def replay_of(headers) -> tuple[str, int, int] | None:
    """(topic, partition, offset) a replayed record was dead-lettered from, or None for an original record."""
    raw = header(headers, REPLAY_OF_HEADER)
    if not raw:
        return None
    topic, _, rest = raw.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    try:
        return topic, int(partition), int(rest)
    except ValueError:
        return None


def replay_headers(dl: dead_letters_pb2.DeadLetter) -> list[tuple[str, bytes]]:
    return [(REPLAY_OF_HEADER, f"{dl.source_topic}:{dl.partition}:{dl.offset}".encode()),
            (REPLAY_COUNT_HEADER, str(dl.replays + 1).encode())]


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_since(text: str, now: int | None = None) -> int:
    """--since as unix ms: a duration back from now (90s, 10m, 2h, 1d), an ISO 8601 time, or unix ms."""
    text = text.strip()
    now = now_ms() if now is None else now
    if m := _RELATIVE.match(text):
        return now - int(float(m.group(1)) * _UNIT_MS[m.group(2)])
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: use a duration (10m, 2h, 1d), an ISO 8601 time or unix ms") from None
    if parsed.tzinfo is None:
        raise ValueError(f"--since {text!r}: give a time zone (e.g. 2026-01-31T12:00:00Z)")
    return int(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class Filter:
    stage: str | None = None
    session: str | None = None       # "tenant/session_id", or a bare session_id of any tenant
    since_ms: int | None = None
    reason: str | None = None
    source_topic: str | None = None

    def matches(self, dl: dead_letters_pb2.DeadLetter) -> bool:
        if self.stage and dl.stage != self.stage:
            return False
        if self.session and self.session not in (dl.session_id, dl.session_id.partition("/")[2]):
            return False
        if self.since_ms is not None and dl.failed_unix_ms < self.since_ms:
            return False
        if self.reason and dl.reason != self.reason:
            return False
        return not (self.source_topic and dl.source_topic != self.source_topic)


@dataclass(frozen=True)
class Entry:
    topic: str          # the dead-letter topic it is in
    offset: int
    letter: dead_letters_pb2.DeadLetter

    def to_json(self) -> dict:
        d = self.letter
        return {"dead_letter_topic": self.topic, "dead_letter_offset": self.offset, "stage": d.stage,
                "reason": d.reason, "attempts": d.attempts, "replays": d.replays, "session": d.session_id,
                "source": f"{d.source_topic}:{d.partition}:{d.offset}", "error_type": d.error_type,
                "error_message": d.error_message, "failed_unix_ms": d.failed_unix_ms, "value_bytes": len(d.value)}

    def line(self) -> str:
        d = self.letter
        when = datetime.fromtimestamp(d.failed_unix_ms / 1000).astimezone().isoformat(timespec="seconds")
        return (f"{self.topic}@{self.offset}\t{when}\t{d.stage}\t{d.reason or '-'}\tattempts={d.attempts}\t"
                f"replays={d.replays}\t{d.session_id}\t{d.source_topic}:{d.partition}:{d.offset}\t"
                f"{d.error_type}: {d.error_message[:120]}")


def read_entries(bootstrap: str, topics: Iterable[str], flt: Filter, timeout_s: float = 30.0) -> list[Entry]:
    """Every dead letter currently in `topics` (from the start to the end offsets at call time) that matches."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None, enable_auto_commit=False,
                             client_id="interarec-deadletters", max_partition_fetch_bytes=8 * 1024 * 1024,
                             fetch_max_bytes=64 * 1024 * 1024, **kafka_python_kwargs())
    entries: list[Entry] = []
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError("timed out reading the dead-letter topics")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset >= end[tp]:
                        continue
                    letter = dead_letters_pb2.DeadLetter()
                    try:
                        letter.ParseFromString(r.value or b"")
                    except Exception:  # noqa: BLE001 -- an unreadable dead letter is reported, not fatal
                        letter = dead_letters_pb2.DeadLetter(error_type="UnreadableDeadLetter")
                    if flt.matches(letter):
                        entries.append(Entry(tp.topic, r.offset, letter))
    finally:
        consumer.close()
    return sorted(entries, key=lambda e: (e.letter.failed_unix_ms, e.topic, e.offset))


def replay(bootstrap: str, entries: list[Entry], timeout_s: float = 30.0) -> list[tuple[Entry, int, int]]:
    """Produce each dead letter's original key/value to its source topic (acks=all). Returns (entry, partition,
    offset) of each replayed record."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", enable_idempotence=True,
                             client_id="interarec-deadletters", max_request_size=8 * 1024 * 1024,
                             **kafka_python_kwargs())
    try:
        futures = [(e, producer.send(e.letter.source_topic, key=e.letter.key or None, value=e.letter.value,
                                     headers=replay_headers(e.letter)))
                   for e in entries if e.letter.source_topic]
        producer.flush(timeout=timeout_s)
        out = []
        for e, fut in futures:
            md = fut.get(timeout=timeout_s)
            out.append((e, md.partition, md.offset))
        return out
    finally:
        producer.close(timeout=timeout_s)


def main(argv: list[str] | None = None) -> int:
    from services.common.config import kafka_bootstrap
    from services.common.topics import DEAD_LETTER_TOPICS

    parser = argparse.ArgumentParser(prog="python -m services.common.deadletters",
                                     description="List dead letters, or replay them to their source topic.")
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--bootstrap", default=None, help="broker list (default: INTERAREC_KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--stage", help="only this stage (summarizer, decomposer, optimizer)")
    parser.add_argument("--session", help="only this session: tenant/session_id, or a bare session id")
    parser.add_argument("--since", help="only dead letters since: 10m, 2h, 1d, an ISO 8601 time or unix ms")
    parser.add_argument("--reason", help="bad_message, invalid, retries_exhausted or unexpected")
    parser.add_argument("--source-topic", help="only those that came from this topic")
    parser.add_argument("--json", action="store_true", help="list as JSON lines")
    parser.add_argument("--dry-run", action="store_true", help="replay: show what would be replayed")
    args = parser.parse_args(argv)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        parser.error(str(exc))
    flt = Filter(stage=args.stage, session=args.session, since_ms=since, reason=args.reason,
                 source_topic=args.source_topic)
    bootstrap = args.bootstrap or kafka_bootstrap()
    from kafka.errors import KafkaError

    from services.common.config import ConfigError
    from services.common.kafka_security import preflight

    try:
        preflight(bootstrap)  # a refused login or certificate: one line, not a minute of reconnects
    except ConfigError as exc:
        print(f"deadletters: {exc}", file=sys.stderr)
        return 2
    try:
        entries = read_entries(bootstrap, [t.name for t in DEAD_LETTER_TOPICS], flt)
        if args.command == "list" or args.dry_run:
            for e in entries:
                print(json.dumps(e.to_json()) if args.json else e.line())
            print(f"{len(entries)} dead letter(s)" + (" would be replayed" if args.dry_run else ""), file=sys.stderr)
            return 0
        for e, partition, offset in replay(bootstrap, entries):
            print(f"replayed {e.topic}@{e.offset} -> {e.letter.source_topic}:{partition}:{offset}")
    except (KafkaError, TimeoutError) as exc:
        print(f"deadletters: Kafka at {bootstrap}: {exc}", file=sys.stderr)
        return 1
    print(f"{len(entries)} dead letter(s) replayed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
