"""The one backoff policy (services/common/backoff.py) and the bounds each retry loop keeps with it."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from services.capture import frames as capture
from services.common.backoff import Backoff, parse_retry_after
from services.common.llm import LlmSettings
from services.common.retry import RetryPolicy
from services.summarizer import model_path

LOW, HIGH = (lambda: 0.0), (lambda: 1.0)


def test_steps_double_from_the_first_and_stop_at_the_cap():
    b = Backoff(first_s=0.25, max_s=2.0)
    assert [b.delay_s(a) for a in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert Backoff(1.0).step_s(40) == 2.0 ** 39 and math.isinf(Backoff(1.0).max_s)  # uncapped when asked
    with pytest.raises(ValueError):
        Backoff(first_s=3.0, max_s=2.0)


def test_jitter_stays_within_its_band_and_varies():
    equal, spread = Backoff(1.0, 8.0, "equal"), Backoff(1.0, 8.0, "spread")
    assert [equal.delay_s(a, rand=LOW) for a in (1, 3)] == [0.5, 2.0]     # half of each step is fixed
    assert [equal.delay_s(a, rand=HIGH) for a in (1, 3)] == [1.0, 4.0]
    assert [spread.delay_s(a, rand=LOW) for a in (1, 3)] == [0.5, 2.0]    # 0.5x..1.5x the step
    assert [spread.delay_s(a, rand=HIGH) for a in (1, 3)] == [1.5, 6.0]
    assert len({equal.delay_s(3) for _ in range(20)}) > 1 and len({spread.delay_s(3) for _ in range(20)}) > 1


def test_retry_after_is_a_floor_never_a_shortcut():
    b = Backoff(0.25, 2.0)
    assert b.delay_s(1, retry_after_s=3.0) == 3.0
    assert b.delay_s(4, retry_after_s=0.5) == 2.0
    assert [parse_retry_after(v) for v in ("2", " 1.5 ", "-4", "", None, "Wed, 21 Oct 2015 07:28:00 GMT", "nan")] == [
        2.0, 1.5, 0.0, None, None, None, None]


def test_every_retry_loop_keeps_its_bounds():
    # Kafka consumer retries: equal jitter on INTERAREC_RETRY_BASE_S doubling to INTERAREC_RETRY_MAX_S
    policy = RetryPolicy(max_attempts=10, base_s=0.5, max_s=4.0)
    assert [policy.delay_s(a, rand=LOW) for a in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert [policy.delay_s(a, rand=HIGH) for a in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert RetryPolicy(base_s=30.0, max_s=5.0).delay_s(1, rand=HIGH) == 5.0  # a base above the cap is capped
    # frame uploads: 0.25 s doubling to 2 s, no jitter (one client per browser tab)
    assert [capture.BACKOFF.delay_s(a) for a in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    # the model path's summary sends: 0.2 s doubling to 10 s
    assert [model_path.SEND_BACKOFF.delay_s(a) for a in (1, 2, 6, 7, 30)] == [0.2, 0.4, 6.4, 10.0, 10.0]
    # model calls: LlmSettings.backoff_s, 0.5x-1.5x jitter (their number is bounded by INTERAREC_LLM_RETRIES)
    assert LlmSettings(base_url="http://x", model="m").backoff_s == 0.25


class _Busy(BaseHTTPRequestHandler):
    """The gateway under load: the first frame is refused with 503 and Retry-After: 1, then taken."""

    hits: list[float] = []

    def do_POST(self):  # noqa: N802 -- http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).hits.append(time.monotonic())
        first = len(type(self).hits) == 1
        self.send_response(503 if first else 202)
        if first:
            self.send_header("Retry-After", "1")
        body = b'{"status": "accepted", "partition": 0, "offset": 7}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_uploader_waits_as_long_as_the_gateway_asked():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async def post() -> bool:
            async with httpx.AsyncClient() as client:
                uploader = capture.FrameUploader(client, f"http://127.0.0.1:{server.server_port}", "key", "s-1")
                return await uploader.post(capture.Frame(seq=1, capture_ms=1, url="http://shop/", title="t",
                                                         jpeg=b"\xff\xd8\xff"))

        assert asyncio.run(post())
        assert len(_Busy.hits) == 2 and _Busy.hits[1] - _Busy.hits[0] >= 0.95  # not the 0.25 s first step
    finally:
        server.shutdown()
