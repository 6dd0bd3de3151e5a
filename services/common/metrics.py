"""Prometheus metrics shared by every stage. Names follow interarec_<service>_<what>_<unit>."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

# Stage latencies span sub-millisecond rule evaluation to multi-second OCR.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80)
# Capture-to-recommendation: 0.25 s steps up to the 5 s real-time target, so p50/p95/p99 are read to a quarter
# second where it matters (load tests, capacity knee); coarse above it. 10 s stays a bucket: the slow-ratio
# alert counts recommendations over 10 s.
E2E_LATENCY_BUCKETS = (*(round(0.25 * n, 2) for n in range(1, 21)), 7.5, 10, 15, 20, 30, 40, 60, 80)


def messages_total(service: str) -> Counter:
    return Counter(f"interarec_{service}_messages_total", "Messages consumed, by outcome", ["outcome"])


def processing_seconds(service: str) -> Histogram:
    return Histogram(f"interarec_{service}_processing_seconds", "Time to process one message",
                     buckets=LATENCY_BUCKETS)


def input_lag_seconds(service: str) -> Histogram:
    """The stage's lag in seconds: how long each record waited in its input topic (from the time the broker
    appended it) before the stage took it. Its p95 says how far behind real time the stage runs; the
    consumer_lag_messages gauge says how many records that is."""
    return Histogram(f"interarec_{service}_input_lag_seconds",
                     "Seconds a record waited in the stage's input topic before the stage took it",
                     buckets=LATENCY_BUCKETS)


def dead_letters_total(service: str) -> Counter:
    return Counter(f"interarec_{service}_dead_letters_total", "Messages sent to the dead-letter topic", ["error"])


def retries_total(service: str) -> Counter:
    return Counter(f"interarec_{service}_retries_total", "Handler attempts retried after a transient failure",
                   ["error"])


def sessions_expired_total(service: str) -> Counter:
    return Counter(f"interarec_{service}_sessions_expired_total", "Sessions expired from the tables (idle past TTL)")


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
