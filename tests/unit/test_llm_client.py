"""The model client against the replay server (recorded vLLM 0.32.0 bodies): answers, every recorded error,
truncation, retries only where they can help, the circuit breaker and the in-flight cap."""

from __future__ import annotations

import asyncio

import pytest

from infra.kafka.broker import free_port
from services.common.llm import CircuitBreaker, LlmClient, LlmError, LlmSettings

MSG = [{"role": "user", "content": "hi"}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}


def client(url: str, **kw) -> LlmClient:
    settings = LlmSettings(base_url=url, model="tiny-vlm", **{"timeout_s": 2.0, "backoff_s": 0.01, **kw})
    return LlmClient(settings, "test")


def run(coro):
    return asyncio.run(coro)


async def call(c: LlmClient, **kw):
    try:
        return await c.chat(MSG, **kw)
    finally:
        await c.close()


def test_json_answer_and_usage(replay):
    replay.state.content = '{"a": 1}'
    answer = run(call(client(replay.url), response_format=SCHEMA))
    assert answer.json_content() == {"a": 1}
    assert (answer.finish_reason, answer.prompt_tokens, answer.completion_tokens) == ("stop", 87, 75)
    assert replay.state.requests[-1]["response_format"] == SCHEMA and replay.state.requests[-1]["temperature"] == 0


def test_stream_is_assembled_with_usage(replay):
    answer = run(call(client(replay.url), response_format=SCHEMA, stream=True))
    assert answer.json_content()["product_types"] == [""]  # the recorded random-model answer, reassembled
    assert (answer.finish_reason, answer.prompt_tokens, answer.completion_tokens) == ("stop", 64, 77)


def test_named_tool_call_arguments(replay):
    tool = {"type": "function", "function": {"name": "optimize_assortment", "parameters": {"type": "object"}}}
    answer = run(call(client(replay.url), tools=[tool],
                      tool_choice={"type": "function", "function": {"name": "optimize_assortment"}}))
    assert answer.tool_arguments("optimize_assortment")["k"] == 4
    with pytest.raises(LlmError) as err:
        answer.tool_arguments("other")
    assert err.value.kind == "no_tool_call"


def test_length_is_a_failure_not_an_answer(replay):
    replay.state.mode = "length"
    with pytest.raises(LlmError) as err:
        run(call(client(replay.url), response_format=SCHEMA))
    assert err.value.kind == "length" and "truncated" in str(err.value)
    assert len(replay.state.requests) == 1  # the same prompt truncates again: no retry


@pytest.mark.parametrize("fixture, needle", [
    ("error_too_many_images", "At most 4 image"),
    ("error_bad_image_data", "Failed to load image"),
    ("error_unknown_model", "does not exist"),
    ("error_context_too_long", "maximum context length"),
    ("error_max_tokens_too_large", "max_tokens=100000"),
    ("error_malformed_json", "JSON decode error"),
])
def test_each_recorded_error_is_a_client_error_without_retry(replay, fixture, needle):
    replay.state.mode = f"error:{fixture}"
    c = client(replay.url, retries=3)
    with pytest.raises(LlmError) as err:
        run(call(c))
    assert err.value.kind == "client_error" and needle in err.value.message
    assert len(replay.state.requests) == 1
    assert c.breaker.state == "closed"  # a 4xx proves the server is alive


def test_real_request_shapes_hit_recorded_errors(replay):
    too_many = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,"
                                                                                      "iVBORw0KGgo="}}] * 5}]
    with pytest.raises(LlmError, match="At most 4 image"):
        run(client(replay.url).chat(too_many))
    with pytest.raises(LlmError, match="max_model_len"):
        run(call(client(replay.url), max_tokens=100_000))


def test_server_errors_are_retried_with_backoff_then_fail(replay):
    replay.state.mode = "server_error"
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    c = LlmClient(LlmSettings(base_url=replay.url, model="tiny-vlm", retries=2, backoff_s=1.0, breaker_failures=10),
                  "test", sleep=sleep)
    with pytest.raises(LlmError) as err:
        run(call(c))
    assert err.value.kind == "server_error"
    assert len(replay.state.requests) == 3
    assert 0.5 <= sleeps[0] <= 1.5 and 1.0 <= sleeps[1] <= 3.0  # exponential, jittered


def test_timeout_is_retried_and_then_succeeds(replay):
    replay.state.delay_s = 0.6
    c = client(replay.url, timeout_s=0.3, retries=1)
    with pytest.raises(LlmError) as err:
        run(call(c))
    assert err.value.kind == "timeout"
    replay.state.delay_s = 0.0
    assert run(call(client(replay.url))).finish_reason == "stop"


def test_garbage_body_is_a_failure(replay):
    replay.state.mode = "garbage"
    with pytest.raises(LlmError) as err:
        run(call(client(replay.url, retries=0)))
    assert err.value.kind == "invalid_response"


def test_down_server_opens_the_breaker_then_a_probe_closes_it(replay):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # a port with nothing listening: connection refused
    now = [0.0]
    settings = LlmSettings(base_url=dead, model="tiny-vlm", retries=0, breaker_failures=2, breaker_reset_s=10)
    c = LlmClient(settings, "test", clock=lambda: now[0])

    async def scenario():
        kinds = []
        for _ in range(3):
            try:
                await c.chat(MSG)
            except LlmError as exc:
                kinds.append(exc.kind)

        now[0] = 11.0  # reset time passed: one probe goes out, to a live server this time
        c._client = c._client.with_options(base_url=replay.url)
        kinds.append((await c.chat(MSG)).finish_reason)
        return kinds

    assert run(scenario()) == ["connection", "connection", "circuit_open", "stop"]
    assert c.breaker.state == "closed"


def test_breaker_half_open_admits_one_probe():
    now = [0.0]
    b = CircuitBreaker(failures=1, reset_s=5, clock=lambda: now[0])
    b.failure()
    assert not b.allow()
    now[0] = 5.0
    assert b.allow() and not b.allow()  # the probe, then nobody else
    b.failure()
    assert b.state == "open" and not b.allow()


def test_in_flight_cap_bounds_concurrent_calls(replay):
    replay.state.delay_s = 0.2
    c = client(replay.url, max_in_flight=3)
    peak = [0]

    async def watch():
        while True:
            peak[0] = max(peak[0], c.in_flight)
            await asyncio.sleep(0.01)

    async def scenario():
        watcher = asyncio.create_task(watch())
        answers = await asyncio.gather(*(c.chat(MSG) for _ in range(9)))
        watcher.cancel()
        await c.close()
        return answers

    assert len(run(scenario())) == 9
    assert peak[0] == 3
