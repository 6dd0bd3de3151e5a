"""Pure reliability logic: retry classification and backoff, tick/TTL decisions, dead-letter records and CLI
parsing. The broker-facing halves are in tests/integration/test_reliability_broker.py."""

from __future__ import annotations

import pytest

from interarec.v1 import dead_letters_pb2
from services.common import deadletters
from services.common.messages import BadMessage
from services.common.retry import (
    PERMANENT,
    REASON_BAD_MESSAGE,
    REASON_INVALID,
    REASON_RETRIES_EXHAUSTED,
    REASON_UNEXPECTED,
    TRANSIENT,
    RetryPolicy,
    TransientError,
    classify,
)
from services.summarizer.activity import ActivityIndex


def test_transient_and_permanent_failures_are_told_apart() -> None:
    import aiokafka.errors as aio
    import kafka.errors as kp

    for exc in (TimeoutError(), ConnectionResetError(), OSError("socket"),
                aio.KafkaTimeoutError(), aio.NotLeaderForPartitionError(), aio.KafkaConnectionError(),
                kp.KafkaTimeoutError(), kp.BrokerNotAvailableError(), TransientError("model server busy")):
        assert classify(exc) == TRANSIENT, exc
    for exc in (BadMessage("x"), ValueError("price_min > price_max"), KeyError("bug"),
                aio.MessageSizeTooLargeError(), kp.MessageSizeTooLargeError()):
        assert classify(exc) == PERMANENT, exc


def test_retry_bound_and_dead_letter_reasons() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=0.1, max_s=1.0)
    assert policy.should_retry(TimeoutError(), 1) and policy.should_retry(TimeoutError(), 2)
    assert not policy.should_retry(TimeoutError(), 3)  # the bound: 3 attempts in total
    assert not policy.should_retry(BadMessage("x"), 1)  # permanent: straight to the dead letters
    assert policy.reason(TimeoutError()) == REASON_RETRIES_EXHAUSTED
    assert policy.reason(BadMessage("x")) == REASON_BAD_MESSAGE
    assert policy.reason(ValueError("bad range")) == REASON_INVALID
    assert policy.reason(KeyError("k")) == REASON_UNEXPECTED


def test_an_error_can_carry_a_smaller_retry_bound() -> None:
    class SlowOcr(TransientError):
        max_attempts = 2

    policy = RetryPolicy(max_attempts=8)
    assert policy.should_retry(SlowOcr(), 1) and not policy.should_retry(SlowOcr(), 2)
    assert policy.reason(SlowOcr()) == REASON_RETRIES_EXHAUSTED


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=0.5, max_s=4.0)
    low = [policy.delay_s(a, rand=lambda: 0.0) for a in range(1, 7)]
    high = [policy.delay_s(a, rand=lambda: 1.0) for a in range(1, 7)]
    assert low == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]   # half of each step is fixed
    assert high == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]   # the cap
    assert len({policy.delay_s(3) for _ in range(20)}) > 1


def test_idle_windows_and_expired_sessions_are_ticked_once_until_retick() -> None:
    index = ActivityIndex()
    index.record("t/a", "t", "a", seen_ms=0, window_last_ms=0)       # window open since 0
    index.record("t/b", "t", "b", seen_ms=0, window_last_ms=None)    # no window, idle since 0
    index.record("t/c", "t", "c", seen_ms=900, window_last_ms=900)   # active
    assert index.due(1_000, idle_ms=500, ttl_ms=10_000, retick_ms=5_000) == ["t/a"]
    assert index.due(1_100, idle_ms=500, ttl_ms=10_000, retick_ms=5_000) == []       # already ticked
    assert index.due(6_000, idle_ms=500, ttl_ms=10_000, retick_ms=5_000) == ["t/a", "t/c"]  # a re-sent (lost?)
    assert "t/b" in index.due(10_000, idle_ms=500, ttl_ms=10_000, retick_ms=5_000)   # TTL expiry
    index.record("t/a", "t", "a", seen_ms=10_000, window_last_ms=None)  # the agent acted: tick state resets
    index.retain(lambda key: key != "t/c")  # partition of t/c revoked
    assert set(index.sessions) == {"t/a", "t/b"}


def test_dead_letter_record_and_replay_headers_round_trip() -> None:
    dl = deadletters.dead_letter(source_topic="interarec.frames.v1", partition=2, offset=41, key=b"acme/s1",
                                 value=b"\x00img", stage="summarizer", error=TimeoutError("no ack"),
                                 reason=REASON_RETRIES_EXHAUSTED, attempts=8, replays=1)
    assert (dl.session_id, dl.reason, dl.attempts, dl.replays, dl.error_type) == (
        "acme/s1", "retries_exhausted", 8, 1, "TimeoutError")
    headers = deadletters.replay_headers(dl)
    assert deadletters.replay_of(headers) == ("interarec.frames.v1", 2, 41)
    assert deadletters.header(headers, deadletters.REPLAY_COUNT_HEADER) == "2"
    assert deadletters.replay_of(dict(headers)) == ("interarec.frames.v1", 2, 41)  # Faust may give a mapping
    assert deadletters.replay_of(None) is None and deadletters.replay_of([("x", b"y")]) is None


def test_since_accepts_durations_iso_times_and_unix_ms() -> None:
    now = 1_800_000_000_000
    assert deadletters.parse_since("10m", now) == now - 600_000
    assert deadletters.parse_since("1.5h", now) == now - 5_400_000
    assert deadletters.parse_since("2d", now) == now - 2 * 86_400_000
    assert deadletters.parse_since("1700000000000", now) == 1_700_000_000_000
    assert deadletters.parse_since("2026-01-31T12:00:00Z", now) == 1_769_860_800_000
    with pytest.raises(ValueError, match="time zone"):
        deadletters.parse_since("2026-01-31T12:00:00", now)
    with pytest.raises(ValueError, match="duration"):
        deadletters.parse_since("yesterday", now)


def test_filter_by_stage_session_time_and_reason() -> None:
    dl = dead_letters_pb2.DeadLetter(stage="decomposer", session_id="acme/s1", failed_unix_ms=5_000,
                                     reason="invalid", source_topic="interarec.summaries.v1")
    F = deadletters.Filter
    assert F().matches(dl) and F(stage="decomposer", session="acme/s1", since_ms=5_000, reason="invalid").matches(dl)
    assert F(session="s1").matches(dl)  # a bare session id matches any tenant's
    assert not F(session="other/s1").matches(dl) and not F(stage="optimizer").matches(dl)
    assert not F(since_ms=5_001).matches(dl) and not F(reason="bad_message").matches(dl)
    assert not F(source_topic="interarec.frames.v1").matches(dl)


def test_cli_rejects_a_bad_since_with_a_clear_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        deadletters.main(["list", "--since", "last week", "--bootstrap", "127.0.0.1:1"])
    assert exc.value.code == 2 and "--since" in capsys.readouterr().err


def test_downstream_last_window_entries_expire_after_the_ttl() -> None:
    from services.common.worker import is_expired

    assert not is_expired({"seq": 9, "seen_ms": 1_000}, now=1_000 + 1_799_999, ttl_ms=1_800_000)
    assert is_expired({"seq": 9, "seen_ms": 1_000}, now=1_000 + 1_800_000, ttl_ms=1_800_000)
    assert is_expired(9, now=1, ttl_ms=1)  # a value from before entries carried their time: expires
