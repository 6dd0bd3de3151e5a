"""Every Kafka topic the system uses, defined once; `python -m services.common.topics apply` creates or
updates them on a broker (idempotent), and the Helm chart renders the same specs."""

from __future__ import annotations

import argparse
import socket
import sys
from dataclasses import dataclass

from services.common.config import ConfigError, bootstrap_addresses
from services.common.settings import from_env, setting

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# A frame is at most 1 MiB of image after the gateway re-encodes, plus protobuf envelope.
FRAME_MAX_MESSAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    max_message_bytes: int = 1024 * 1024

    def configs(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            "max.message.bytes": str(self.max_message_bytes),
        }


@dataclass(frozen=True)
class TopicSettings:
    partitions: int = setting(
        "INTERAREC_KAFKA_PARTITIONS", 4,
        "partitions of every session-keyed topic, and so the most replicas of a stage that share its work (docs/"
        "capacity.md); every process of a deployment must agree, and raising it later moves live sessions",
        minimum=1, maximum=10_000)


def _partitions() -> int:
    """Read once, at import: the topic specs below are module constants every process shares."""
    try:
        return from_env(TopicSettings).partitions
    except ConfigError as exc:  # at import, before an entry point could report it: a message, not a traceback
        sys.exit(f"configuration error: {exc}")


# Session-keyed: one partition owns a session in every stage (keys.session_key), so all have the same count.
PARTITIONS = _partitions()
FRAMES = TopicSpec("interarec.frames.v1", PARTITIONS, HOUR_MS, max_message_bytes=FRAME_MAX_MESSAGE_BYTES)
SUMMARIES = TopicSpec("interarec.summaries.v1", PARTITIONS, 7 * DAY_MS)
OPT_REQUESTS = TopicSpec("interarec.opt-requests.v1", PARTITIONS, 7 * DAY_MS)
# Compacted: the latest recommendation per session survives; 7 days bound abandoned sessions.
RECOMMENDATIONS = TopicSpec("interarec.recommendations.v1", PARTITIONS, 7 * DAY_MS, cleanup_policy="compact,delete")
FEEDBACK = TopicSpec("interarec.feedback.v1", PARTITIONS, 30 * DAY_MS)
# Dead letters carry the original message whole, so they may be as large as a frame.
DEAD_LETTERS = TopicSpec("interarec.dead-letters.v1", 1, 14 * DAY_MS, max_message_bytes=2 * FRAME_MAX_MESSAGE_BYTES)
# Dead-lettered frames carry screenshots: they expire with the frames topic's retention, not after 14 days.
FRAME_DEAD_LETTERS = TopicSpec("interarec.dead-letters.frames.v1", 1, FRAMES.retention_ms,
                               max_message_bytes=2 * FRAME_MAX_MESSAGE_BYTES)
DEAD_LETTER_TOPICS: tuple[TopicSpec, ...] = (DEAD_LETTERS, FRAME_DEAD_LETTERS)

SESSION_KEYED: tuple[TopicSpec, ...] = (FRAMES, SUMMARIES, OPT_REQUESTS, RECOMMENDATIONS, FEEDBACK)
ALL_TOPICS: tuple[TopicSpec, ...] = (*SESSION_KEYED, DEAD_LETTERS, FRAME_DEAD_LETTERS)


def dead_letter_topic(source_topic: str) -> TopicSpec:
    return FRAME_DEAD_LETTERS if source_topic == FRAMES.name else DEAD_LETTERS


def session_partition(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as in the Java, kafka-python and aiokafka
    clients) gives a session-keyed message (key: keys.session_key): one partition owns a session in every
    session-keyed topic."""
    from kafka.partitioner.default import murmur2

    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def apply_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = ALL_TOPICS, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics, bring configs of existing ones in line, grow partitions. Returns a log."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic

    from services.common.kafka_security import kafka_python_kwargs

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="interarec-topics",
                             request_timeout_ms=int(timeout_s * 1000), **kafka_python_kwargs())
    log: list[str] = []
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            admin.create_topics([NewTopic(s.name, s.partitions, 1, topic_configs=s.configs()) for s in missing],
                                timeout_ms=int(timeout_s * 1000))
            log += [f"created {s.name} ({s.partitions} partitions)" for s in missing]
        present = [s for s in specs if s.name in existing]
        if present:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([s.name for s in present])}
            # Fewer partitions than the processes compute with would route a session's records to one partition
            # and its state to another; Kafka cannot shrink a topic, so the setting has to follow the cluster.
            more = [f"{s.name} has {described[s.name]}" for s in present if s in SESSION_KEYED
                    and described.get(s.name, 0) > s.partitions]
            if more:
                raise ConfigError(_mismatch(more))
            grow = {s.name: NewPartitions(s.partitions) for s in present if described.get(s.name, 0) < s.partitions}
            if grow:
                admin.create_partitions(grow)
                log += [f"grew {name} to {np.total_count} partitions" for name, np in grow.items()]
            admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.configs()) for s in present])
            log += [f"configured {s.name}" for s in present]
    finally:
        admin.close()
    return log


def check_partitions(bootstrap: str, timeout_s: float = 10.0) -> None:
    """Raises ConfigError when a session-keyed topic exists with another partition count than this process
    computes sessions' partitions with: a worker would own a session's records on one partition and look for its
    state on another, without an error. A broker not reachable yet is left to the clients, which retry."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    from services.common.kafka_security import kafka_python_kwargs

    if not _any_reachable(bootstrap, min(timeout_s, 2.0)):  # else kafka-python would retry for timeout_s first
        return
    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="interarec-partitions-check",
                                 request_timeout_ms=int(timeout_s * 1000), bootstrap_timeout_ms=int(timeout_s * 1000),
                                 **kafka_python_kwargs())
    except KafkaError:
        return
    try:
        existing = consumer.topics()
        counts = {s.name: len(consumer.partitions_for_topic(s.name) or ()) for s in SESSION_KEYED if s.name in existing}
    except KafkaError:
        return
    finally:
        consumer.close()
    if wrong := [f"{name} has {n}" for name, n in counts.items() if n != PARTITIONS]:
        raise ConfigError(_mismatch(wrong))


def _any_reachable(bootstrap: str, timeout_s: float) -> bool:
    """Whether any bootstrap server takes a TCP connection (a gateway may start before its broker)."""
    for host, port in bootstrap_addresses(bootstrap):
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            return True
        except OSError:
            continue
    return False


def _mismatch(topics: list[str]) -> str:
    return (f"{', '.join(topics)} partitions but INTERAREC_KAFKA_PARTITIONS is {PARTITIONS}: set it to the "
            "topics' count in every process")


def main(argv: list[str] | None = None) -> int:
    from services.common.config import kafka_bootstrap

    parser = argparse.ArgumentParser(prog="python -m services.common.topics", description=__doc__)
    parser.add_argument("command", choices=["apply", "list"])
    parser.add_argument("--bootstrap", default=None, help="broker list (default: INTERAREC_KAFKA_BOOTSTRAP_SERVERS)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for s in ALL_TOPICS:
            print(f"{s.name}\tpartitions={s.partitions}\t" + "\t".join(f"{k}={v}" for k, v in s.configs().items()))
        return 0
    from services.common.kafka_security import preflight

    bootstrap = args.bootstrap or kafka_bootstrap()
    try:
        preflight(bootstrap)
        log = apply_topics(bootstrap)
    except ConfigError as exc:
        print(f"topics: {exc}", file=sys.stderr)
        return 2
    for line in log:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
