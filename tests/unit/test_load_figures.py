"""The load test's and scale-out benchmark's arithmetic (infra/bench/load_figures.py) and the fine end-to-end
latency buckets it reads p50/p95/p99 from."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from infra.bench import load_figures as fig
from infra.local import procstats
from services.common.metrics import E2E_LATENCY_BUCKETS

NAME = "interarec_optimizer_end_to_end_latency_seconds"


def exposition(values: list[float]) -> str:
    registry = CollectorRegistry()
    h = Histogram(NAME, "e2e", buckets=E2E_LATENCY_BUCKETS, registry=registry)
    for v in values:
        h.observe(v)
    return generate_latest(registry).decode()


def test_e2e_buckets_resolve_quarter_seconds_up_to_the_target_and_keep_the_alerts_bucket():
    bounds = [b for b in E2E_LATENCY_BUCKETS if b <= 5]
    assert bounds == [0.25 * n for n in range(1, 21)]
    assert 10 in E2E_LATENCY_BUCKETS  # interarec:end_to_end_slow_ratio:rate5m counts le="10.0"
    from services.optimizer.agents import END_TO_END

    assert tuple(END_TO_END._upper_bounds[:-1]) == tuple(float(b) for b in E2E_LATENCY_BUCKETS)


def test_quantiles_from_the_fine_buckets_land_within_a_quarter_second():
    # 100 recommendations: 90 around 1.1 s, 10 slow ones around 3.6 s
    buckets = fig.histogram([exposition([1.1] * 90 + [3.6] * 10)], NAME)
    assert 1.0 <= fig.quantile(buckets, 0.5) <= 1.25
    assert 3.5 <= fig.quantile(buckets, 0.95) <= 3.75
    assert fig.quantile(fig.histogram([exposition([])], NAME), 0.95) is None
    assert math.isinf(fig.quantile(fig.histogram([exposition([500.0])], NAME), 0.5))  # past the last bucket


def test_a_step_is_measured_alone_and_replicas_add_up():
    before = exposition([0.3] * 50)
    after = exposition([0.3] * 50 + [4.4] * 50)  # the step itself only saw the slow ones
    step = fig.minus(fig.histogram([after], NAME), fig.histogram([before], NAME))
    assert 4.25 <= fig.quantile(step, 0.5) <= 4.5
    both = fig.histogram([exposition([0.3]), exposition([0.3, 0.3])], NAME)
    assert both[-1] == (math.inf, 3.0)


def test_knee_is_the_last_step_within_the_target():
    steps = [fig.Step(4, 1.2), fig.Step(6, 2.9), fig.Step(9, 7.5), fig.Step(14, 3.0)]
    assert fig.knee(steps, 5.0) == 6  # a later lucky step does not count once one exceeded it
    assert fig.knee([fig.Step(4, None)], 5.0) is None
    assert fig.knee([fig.Step(4, 6.0)], 5.0) is None
    assert fig.next_users(4) == 6 and fig.next_users(1) == 3 and fig.next_users(20) == 30


def test_soak_checks_flag_memory_growth_and_lag_growth_but_not_warmup():
    warm_then_flat = [100.0] * 5 + [200.0] * 45  # warm-up jump, then flat
    assert fig.relative_drift(warm_then_flat) == pytest.approx(0.0)
    leaking = [200.0 + 2 * i for i in range(50)]
    assert fig.relative_drift(leaking) > 0.10
    steady = [(t * 10.0, 5.0 + (t % 3)) for t in range(60)]
    assert abs(fig.lag_growth(steady)) < 1.0
    growing = [(t * 10.0, 3.0 * t) for t in range(60)]  # 3 messages more every 10 s
    assert fig.lag_growth(growing) == pytest.approx(18.0)


def test_rolling_p95_and_recovery_after_a_change():
    slow, fast = fig.histogram([exposition([8.0] * 20)], NAME), fig.histogram([exposition([1.0] * 20)], NAME)
    samples, total = [], [(le, 0.0) for le, _ in fast]
    # t = 0..60 every 2 s: 1 s latencies, then 8 s ones from 20 s to 34 s (a rebalance), then 1 s again
    for t in range(0, 62, 2):
        step = slow if 20 <= t < 34 else fast
        total = [(le, count + added) for (le, count), (_, added) in zip(total, step, strict=True)]
        samples.append((float(t), total))
    series = fig.rolling_quantile(samples, 10.0, 0.95)
    assert all(v <= 5 for t, v in series if t < 20)
    assert any(v > 5 for t, v in series if 20 <= t < 44)
    back = fig.recovery_s(series, 20.0, 5.0)
    assert 20 <= back <= 24  # the last 10 s window holding slow ones ends at 42-44 s
    assert fig.recovery_s([(t, 1.0) for t in range(30)], 5.0, 5.0) == 0.0


def test_accounting_finds_lost_double_read_and_backwards_windows():
    frames = [("s1", 0, 10), ("s1", 0, 11), ("s1", 0, 12), ("s2", 1, 5)]
    good = [("s1", 12, 0, [10, 11]), ("s1", 13, 0, [12]), ("s1", 13, 0, [12]), ("s2", 6, 1, [5])]
    acc = fig.account(frames, good)
    assert (acc.frames, acc.unaccounted, acc.double, acc.backwards, acc.redelivered, acc.sessions) == (4, 0, 0, 0, 1, 2)
    split = [("s1", 12, 0, [10, 11]), ("s1", 11, 0, [11]), ("s2", 6, 1, [5])]  # a second owner re-read frame 11
    acc = fig.account(frames, split)
    assert (acc.unaccounted, acc.double, acc.backwards) == (1, 1, 1)


def test_procstats_counts_a_busy_child_in_its_parents_tree():
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 30  # a shared, loaded machine gives the child CPU slowly
        while procstats.usage(child.pid).cpu_s < 0.2 and time.monotonic() < deadline:
            time.sleep(0.1)
        tree, alone = procstats.usage(os.getpid()), procstats.usage(child.pid)
        assert alone.cpu_s >= 0.2 and alone.rss_bytes > 1 << 20
        assert child.pid in procstats.descendants(os.getpid())
        assert tree.cpu_s >= alone.cpu_s and tree.rss_bytes > alone.rss_bytes
    finally:
        child.kill()
        child.wait(10)
    assert procstats.usage(child.pid) == procstats.Usage(0.0, 0)  # gone: nothing left to count


def test_mean_frame_size_between_two_scrapes():
    def gateway(sizes: list[float]) -> str:
        registry = CollectorRegistry()
        h = Histogram("interarec_gateway_frame_bytes", "size", buckets=(16e3, 1024e3), registry=registry)
        for v in sizes:
            h.observe(v)
        return generate_latest(registry).decode()

    before, after = gateway([50e3] * 10), gateway([50e3] * 10 + [150e3] * 4)
    assert fig.mean_of(after, before, "interarec_gateway_frame_bytes") == pytest.approx(150e3)
    assert fig.mean_of(before, before, "interarec_gateway_frame_bytes") is None


def test_throughput_knee_is_where_the_backlog_stops_being_bounded():
    bounded = [(float(t), {"summarizer": 3.0 + t % 4, "optimizer": 0.0}) for t in range(0, 70, 5)]
    growing = [(float(t), {"summarizer": 2.0 * t, "optimizer": 0.0}) for t in range(0, 70, 5)]  # 120/min
    assert fig.keeps_up(bounded, 70, drained=True)
    assert not fig.keeps_up(bounded, 70, drained=False)  # it never drained: it was behind, whatever the trend
    assert not fig.keeps_up(growing, 70, drained=True)
    steps = [fig.Step(4, 6.0, True), fig.Step(8, 6.5, True), fig.Step(16, 9.0, False), fig.Step(32, 20.0, True)]
    assert fig.throughput_knee(steps) == 8 and fig.knee(steps, 5.0) is None
