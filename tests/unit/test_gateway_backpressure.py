"""The gateway's back-pressure decision (services/gateway/backpressure.py), without a broker."""

from services.gateway.backpressure import PipelineLag, behind


def test_frames_are_refused_only_over_a_set_limit_and_never_on_an_unknown_lag():
    assert behind(501, 500) and not behind(500, 500)
    assert not behind(None, 500)  # unreadable: fail open
    assert not behind(10**9, 0)  # 0: off


def test_retry_after_is_the_next_reading_in_whole_seconds():
    lag = PipelineLag("127.0.0.1:1", "g", max_lag=100, interval_s=2.5)  # never started: no broker needed
    assert lag.retry_after_s() is None
    lag.lag = 101
    assert lag.retry_after_s() == 3
    lag.lag = 100
    assert lag.retry_after_s() is None
    assert not PipelineLag("127.0.0.1:1", "g", max_lag=0, interval_s=1).enabled
