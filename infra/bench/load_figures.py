"""Pure arithmetic behind the load test's and the scale-out benchmark's figures: histogram quantiles from
scraped Prometheus text (the difference between two scrapes, so one step of a run is measured alone), the
capacity knee, and the soak's flatness checks. No I/O here: load-tests/run.py and infra/bench/scale_out.py
do the scraping."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Buckets = list[tuple[float, float]]  # (upper bound "le", cumulative count), ascending, +Inf last
WARMUP = 0.2  # share of a soak's samples left out of its trends: caches fill, the JVM sizes its heap
# A soak "grows lag" when the fitted trend adds more than this many waiting messages over the soak: about two
# seconds of frames at the loads measured here, i.e. more than jitter.
LAG_GROWTH_SLACK = 20.0


def histogram(texts: Iterable[str], name: str) -> Buckets:
    """The cumulative buckets of histogram `name`, summed over every exposition given (replicas) and over
    label sets; empty when no text has it."""
    total: dict[float, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    le = float(sample.labels["le"])
                    total[le] = total.get(le, 0.0) + sample.value
    return sorted(total.items())


def mean_of(after: str, before: str, name: str) -> float | None:
    """Mean observation of histogram `name` between two scrapes of one process (its _sum over its _count)."""
    def sum_count(text: str) -> tuple[float, float]:
        total = count = 0.0
        for family in text_string_to_metric_families(text):
            if family.name == name:
                for sample in family.samples:
                    total += sample.value if sample.name.endswith("_sum") else 0.0
                    count += sample.value if sample.name.endswith("_count") else 0.0
        return total, count

    (s1, c1), (s0, c0) = sum_count(after), sum_count(before)
    return (s1 - s0) / (c1 - c0) if c1 > c0 else None


def minus(after: Buckets, before: Buckets) -> Buckets:
    """What was observed between two scrapes of the same histogram (a process restart shows as a drop: clamped)."""
    earlier = dict(before)
    return [(le, max(0.0, count - earlier.get(le, 0.0))) for le, count in after]


def quantile(buckets: Buckets, q: float) -> float | None:
    """Quantile q as Prometheus's histogram_quantile computes it: linear within the bucket that holds it. None
    without observations; inf when it lies past the highest finite bucket (the answer is only "more than that")."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_le, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return math.inf
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return math.inf


def counters(texts: Iterable[str], name: str, label: str) -> dict[str, float]:
    """Counter `name` (without the _total suffix, as the parser names families) summed over texts, by one label."""
    out: dict[str, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name == name:
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        key = sample.labels.get(label, "")
                        out[key] = out.get(key, 0.0) + sample.value
    return out


def gauge_by_partition(text: str, name: str) -> dict[tuple[str, str], float]:
    """A per-(topic, partition) gauge such as interarec_<service>_consumer_lag_messages: what one worker reports
    for the partitions it is assigned."""
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for sample in family.samples:
                out[(sample.labels.get("topic", ""), sample.labels.get("partition", ""))] = sample.value
    return out


@dataclass(frozen=True)
class Step:
    users: int
    p95_s: float | None  # None: no recommendation measured in the step, which is past capacity too
    keeps_up: bool = True  # the backlog stayed bounded: no stage's lag grew and it drained afterwards


def knee(steps: Sequence[Step], limit_s: float = 5.0) -> int | None:
    """The most shoppers whose step kept capture-to-recommendation p95 within limit_s, stopping at the first
    step that did not (None when even the first step exceeded it)."""
    best = None
    for step in steps:
        if step.p95_s is None or step.p95_s > limit_s:
            break
        best = step.users
    return best


def throughput_knee(steps: Sequence[Step]) -> int | None:
    """The most shoppers the pipeline kept up with (whatever its latency), stopping at the first that it did not."""
    best = None
    for step in steps:
        if not step.keeps_up:
            break
        best = step.users
    return best


def keeps_up(lag: Sequence[tuple[float, Mapping[str, float]]], seconds: float, drained: bool) -> bool:
    """A load step kept up when its backlog drained afterwards and no stage's lag trend added more than
    LAG_GROWTH_SLACK waiting messages over the step (warm-up included: a short step has little to leave out)."""
    stages = {stage for _, sample in lag for stage in sample}
    return drained and all(
        lag_growth([(t, sample.get(stage, 0.0)) for t, sample in lag if t <= seconds], warmup=0.0) * seconds / 60
        <= LAG_GROWTH_SLACK for stage in stages)


def next_users(users: int, factor: float = 1.5, minimum_step: int = 2) -> int:
    """The next capacity step: grow geometrically so the knee is found in a few steps, never by less than
    minimum_step shoppers."""
    return max(users + minimum_step, math.ceil(users * factor))


def relative_drift(series: Sequence[float], warmup: float = WARMUP) -> float:
    """How far a series (one process's RSS over a soak) moved from its level after warm-up to its level at the
    end: mean of the last fifth over mean of the fifth right after the warm-up share, minus one."""
    body = list(series[int(len(series) * warmup):])
    if len(body) < 2:
        return 0.0
    n = max(1, len(body) // 5)
    start, end = sum(body[:n]) / n, sum(body[-n:]) / n
    return 0.0 if start == 0 else end / start - 1.0


def lag_growth(samples: Sequence[tuple[float, float]], warmup: float = WARMUP) -> float:
    """Least-squares slope (messages per minute) of total lag over time after the warm-up share: positive and
    large means the stage falls behind; around zero means it keeps up."""
    body = list(samples[int(len(samples) * warmup):])
    if len(body) < 2:
        return 0.0
    ts = [t for t, _ in body]
    vs = [v for _, v in body]
    mt, mv = sum(ts) / len(ts), sum(vs) / len(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return 0.0 if den == 0 else 60.0 * sum((t - mt) * (v - mv) for t, v in body) / den


def per_minute(count: float, shoppers: int, seconds: float) -> float:
    """count spread over shoppers and minutes: frames per shopper-minute."""
    return count / shoppers / (seconds / 60.0) if shoppers and seconds else 0.0


def spread(assignment: Mapping[str, Iterable[object]]) -> str:
    """Partitions per replica as one line, e.g. 'summarizer: 0,1 | summarizer-2: 2,3'."""
    return " | ".join(f"{name}: {','.join(str(p) for p in sorted(parts)) or '-'}" for name, parts in assignment.items())


def rolling_quantile(samples: Sequence[tuple[float, Buckets]], window_s: float, q: float) -> list[tuple[float, float]]:
    """Quantile q of what a histogram observed in the window_s before each sample (cumulative scrapes in time
    order); samples whose window saw no observation are left out."""
    out = []
    for i, (t, after) in enumerate(samples):
        base = next((b for s, b in reversed(samples[:i + 1]) if s <= t - window_s), None)
        if base is None:
            continue
        value = quantile(minus(after, base), q)
        if value is not None:
            out.append((t, value))
    return out


def recovery_s(series: Sequence[tuple[float, float]], event_t: float, limit: float, horizon_s: float = 90.0) -> float:
    """Seconds after event_t until the series was back within limit for good (within horizon_s): 0 when it never
    left it. The last sample above the limit marks the end of the disturbance."""
    above = [t for t, v in series if event_t <= t <= event_t + horizon_s and v > limit]
    return max(above) - event_t if above else 0.0


@dataclass
class Accounting:
    frames: int = 0  # frames of the run's sessions in the frames topic
    unaccounted: int = 0  # in no summary's frame_offsets: lost
    double: int = 0  # in two different windows of a session: processed twice, as a split session would be
    redelivered: int = 0  # the same window emitted again (at-least-once after a rebalance): dropped downstream
    backwards: int = 0  # a session's window_seq going backwards in topic order: two writers
    sessions: int = 0


def account(frames: Iterable[tuple[str, int, int]], summaries: Iterable[tuple[str, int, int, Sequence[int]]]
            ) -> Accounting:
    """Every frame (session, partition, offset) against the summaries (session, window_seq, frames_partition,
    frame_offsets, in topic order): nothing lost, nothing read by two owners, window_seq never backwards."""
    acc = Accounting()
    owner: dict[tuple[int, int], int] = {}  # frame -> window_seq that accounted for it
    last_seq: dict[str, int] = {}
    seen_windows: set[tuple[str, int]] = set()
    for session, seq, partition, offsets in summaries:
        if (session, seq) in seen_windows:
            acc.redelivered += 1
            continue
        seen_windows.add((session, seq))
        if seq < last_seq.get(session, 0):
            acc.backwards += 1
        last_seq[session] = max(seq, last_seq.get(session, 0))
        for offset in offsets:
            if owner.setdefault((partition, offset), seq) != seq:
                acc.double += 1
    sessions = set()
    for session, partition, offset in frames:
        acc.frames += 1
        sessions.add(session)
        if (partition, offset) not in owner:
            acc.unaccounted += 1
    acc.sessions = len(sessions)
    return acc
