"""OrderedDispatcher: many sessions in flight up to the cap, each session's windows in order, no double runs."""

from __future__ import annotations

import asyncio
import random

import pytest

from services.summarizer.dispatch import OrderedDispatcher


def test_sessions_run_concurrently_up_to_the_cap_and_each_in_order():
    done: list[tuple[str, int]] = []

    async def scenario():
        d = OrderedDispatcher(max_in_flight=10)
        rng = random.Random(1)

        def job(key, seq):
            async def run():
                await asyncio.sleep(rng.uniform(0.001, 0.02))  # later windows may be quicker: order must hold
                done.append((key, seq))
            return run

        for seq in range(1, 6):
            for s in range(30):
                assert d.submit(f"s{s}", seq, job(f"s{s}", seq))
        await d.drain()
        return d

    d = asyncio.run(scenario())
    assert len(done) == 150 and d.peak_in_flight == 10 and len(d) == 0
    for s in range(30):
        assert [seq for key, seq in done if key == f"s{s}"] == [1, 2, 3, 4, 5]


def test_duplicate_submission_runs_once_and_failure_does_not_block_the_next():
    ran: list[int] = []

    async def scenario():
        d = OrderedDispatcher(max_in_flight=2)

        async def fail():
            ran.append(1)
            raise RuntimeError("kafka down")

        async def ok():
            ran.append(2)

        assert d.submit("s", 1, fail)
        assert not d.submit("s", 1, fail)  # re-dispatch while queued
        assert d.pending("s", 1)
        assert d.submit("s", 2, ok)
        await d.drain()
        assert not d.pending("s", 1) and d.failed == 1
        assert d.submit("s", 1, ok)  # finished (failed) jobs can be submitted again
        await d.drain()

    asyncio.run(scenario())
    assert ran == [1, 2, 2]


def test_cap_must_be_positive():
    with pytest.raises(ValueError):
        OrderedDispatcher(0)
