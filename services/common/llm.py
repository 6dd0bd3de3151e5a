"""One async client for OpenAI-compatible model servers (vLLM in production), shared by the summarizer's
`vllm` backend and the decomposer's `llm` backend.

Built on the `openai` package's AsyncOpenAI (its own retries are off: ours are narrower). Around each call:
- a per-call timeout;
- bounded retries with jittered exponential backoff, for timeouts, connection errors and 5xx only (a 4xx
  or a bad answer repeats itself: retrying it only adds load);
- a circuit breaker: after `breaker_failures` consecutive server failures no call is made for
  `breaker_reset_s`, then one probe call decides between closing and re-opening;
- a cap on calls in flight per replica (an asyncio.Semaphore: extra callers wait, nothing is dropped);
- metrics: calls by outcome, prompt/completion tokens, latency, finish_reason, in-flight, breaker state.

`finish_reason == "length"` means the answer was cut off (the JSON is truncated): it is a failed call,
never an answer. Every failure is an LlmError whose `kind` names it, so callers fall back and count why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
from prometheus_client import Counter, Gauge, Histogram

from services.common import config
from services.common.backoff import Backoff
from services.common.metrics import LATENCY_BUCKETS
from services.common.settings import from_env as read_settings
from services.common.settings import setting

CALLS = Counter("interarec_llm_calls_total", "Model calls (attempts) by caller and outcome", ["caller", "outcome"])
TOKENS = Counter("interarec_llm_tokens_total", "Tokens reported by the model server", ["caller", "kind"])
LATENCY = Histogram("interarec_llm_call_seconds", "Model call latency (one attempt)", ["caller"],
                    buckets=LATENCY_BUCKETS)
FINISH = Counter("interarec_llm_finish_reason_total", "Answers by finish_reason", ["caller", "finish_reason"])
IN_FLIGHT = Gauge("interarec_llm_in_flight", "Model calls in flight", ["caller"])
BREAKER = Gauge("interarec_llm_circuit_open", "1 while the circuit breaker blocks calls", ["caller"])

# Failure kinds. RETRYABLE: the server may answer next time. SERVER_FAILURES: count towards opening the breaker.
RETRYABLE = frozenset({"timeout", "connection", "server_error"})
SERVER_FAILURES = RETRYABLE


class LlmError(Exception):
    """A failed model call. kind: timeout, connection, server_error, client_error, circuit_open, length,
    invalid_response (a 200 that is no completion), empty, invalid_json, wrong_schema, no_tool_call."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def _base_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise config.ConfigError("INTERAREC_LLM_BASE_URL must be the model server's OpenAI API URL, e.g. "
                                 f"http://127.0.0.1:8000/v1 (got {raw!r})")
    return raw


def _model(raw: str) -> str:
    if not raw:
        raise config.ConfigError("INTERAREC_LLM_MODEL must name the served model (vllm serve --served-model-name)")
    return raw


@dataclass(frozen=True)
class LlmSettings:
    """The model client's settings, each variable declared once (services/common/settings.py). Read only by
    the backends that call a model (`vllm`, `llm`): there the URL and the model are required."""

    base_url: str = setting("INTERAREC_LLM_BASE_URL", "", "the model server's OpenAI API, e.g. "
                            "`http://127.0.0.1:8000/v1`", default_doc="required for any `vllm`/`llm` backend",
                            parse=_base_url)
    model: str = setting("INTERAREC_LLM_MODEL", "", "the served model name (`vllm serve --served-model-name`)",
                         default_doc="required for `vllm`/`llm`", parse=_model)
    api_key: str = setting("INTERAREC_LLM_API_KEY", "EMPTY", "bearer key, if the server wants one")
    timeout_s: float = setting("INTERAREC_LLM_TIMEOUT_S", 30.0, "per-call timeout", minimum=0.1, maximum=600)
    retries: int = setting("INTERAREC_LLM_RETRIES", 2, "retries (jittered exponential backoff) after a timeout, "
                           "connection error or 5xx; never after a 4xx or a bad answer", minimum=0, maximum=10)
    backoff_s: float = 0.25  # first retry's mean delay (not a setting)
    max_in_flight: int = setting("INTERAREC_LLM_MAX_IN_FLIGHT", 64, "model calls in flight per replica and "
                                 "service", minimum=1, maximum=4096)
    breaker_failures: int = setting("INTERAREC_LLM_BREAKER_FAILURES", 5, "consecutive server failures that open "
                                    "the circuit breaker", minimum=1, maximum=1000)
    breaker_reset_s: float = setting("INTERAREC_LLM_BREAKER_RESET_S", 15.0, "seconds before an open breaker "
                                     "lets one probe call through", minimum=0.1, maximum=3600)
    max_tokens: int = setting("INTERAREC_LLM_MAX_TOKENS", 512, "answer budget; an answer cut off at it "
                              "(`finish_reason: length`) is a failure", minimum=16, maximum=32768)
    max_images: int = setting("INTERAREC_LLM_MAX_IMAGES", 4, "frames per prompt (keep at or below the server's "
                              "`--limit-mm-per-prompt`)", minimum=1, maximum=32)
    max_pixels: int = setting("INTERAREC_LLM_MAX_PIXELS", 640 * 400, "pixel budget per frame (640x400); frames "
                              "are downscaled to it and sent as JPEG data URLs", minimum=28 * 28,
                              maximum=4096 * 4096)

    @classmethod
    def from_env(cls) -> LlmSettings:
        """INTERAREC_LLM_*, validated; raises config.ConfigError naming the variable."""
        return read_settings(cls)


class CircuitBreaker:
    """closed -> (N consecutive server failures) -> open -> (reset_s) -> half-open: one probe at a time."""

    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic):
        self.failures, self.reset_s, self.clock = failures, reset_s, clock
        self.consecutive = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self.probing:
            self.probing = True  # this caller is the probe; others stay blocked until it reports
            return True
        return False

    def success(self) -> None:
        self.consecutive, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        self.consecutive += 1
        if self.probing or self.consecutive >= self.failures:
            self.opened_at, self.probing = self.clock(), False


@dataclass
class LlmAnswer:
    content: str
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (function name, arguments JSON)
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 1

    def json_content(self) -> Any:
        if not self.content.strip():
            raise LlmError("empty", "the answer has no content")
        try:
            return json.loads(self.content)
        except json.JSONDecodeError as exc:
            raise LlmError("invalid_json", f"{exc}; content starts {self.content[:80]!r}") from None

    def tool_arguments(self, name: str) -> Any:
        for fn, arguments in self.tool_calls:
            if fn == name:
                try:
                    return json.loads(arguments)
                except json.JSONDecodeError as exc:
                    raise LlmError("invalid_json", f"{name} arguments: {exc}; start {arguments[:80]!r}") from None
        raise LlmError("no_tool_call", f"no call of {name!r} (calls: {[fn for fn, _ in self.tool_calls]})")


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body) if isinstance(body, dict) else {}
    msg = inner.get("message") if isinstance(inner, dict) else None
    return f"HTTP {exc.status_code}: {msg or exc.message}"[:500]


def _as_body(kwargs: dict) -> dict:
    """Send the JSON schema / tool definitions as extra_body: the same JSON on the wire, but openai skips its
    recursive per-call transform of them (measured: most of the client's CPU time per call with a catalog-
    sized enum schema)."""
    static = {k: kwargs[k] for k in ("response_format", "tools", "tool_choice") if k in kwargs}
    rest = {k: v for k, v in kwargs.items() if k not in static}
    if static:
        rest["extra_body"] = {**rest.get("extra_body", {}), **static}
    return rest


class LlmClient:
    """Async chat-completions client with the safety rails above. One per replica and caller."""

    def __init__(self, settings: LlmSettings, caller: str, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep):
        self.settings, self.caller, self._sleep = settings, caller, sleep
        self._client = openai.AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key,
                                          timeout=settings.timeout_s, max_retries=0)
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s, clock)
        self.in_flight = 0
        BREAKER.labels(caller=caller).set(0)

    async def close(self) -> None:
        await self._client.close()

    async def chat(self, messages: list[dict], *, max_tokens: int | None = None, stream: bool = False,
                   **kwargs: Any) -> LlmAnswer:
        """One chat completion (response_format / tools / tool_choice pass through). Raises LlmError."""
        attempt = 0
        while True:
            attempt += 1
            if not self.breaker.allow():
                CALLS.labels(caller=self.caller, outcome="circuit_open").inc()
                BREAKER.labels(caller=self.caller).set(1)
                raise LlmError("circuit_open", f"{self.breaker.consecutive} consecutive server failures; "
                                               f"next probe within {self.settings.breaker_reset_s:g} s")
            try:
                answer = await self._attempt(messages, max_tokens or self.settings.max_tokens, stream, kwargs)
            except LlmError as exc:
                CALLS.labels(caller=self.caller, outcome=exc.kind).inc()
                if exc.kind in SERVER_FAILURES:
                    self.breaker.failure()
                else:
                    self.breaker.success()  # the server answered: it is alive
                BREAKER.labels(caller=self.caller).set(int(self.breaker.state != "closed"))
                if exc.kind in RETRYABLE and attempt <= self.settings.retries and self.breaker.state == "closed":
                    # jitter around an exponential step, so retrying replicas do not stampede together
                    await self._sleep(Backoff(self.settings.backoff_s, jitter="spread").delay_s(attempt))
                    continue
                raise
            self.breaker.success()
            BREAKER.labels(caller=self.caller).set(0)
            CALLS.labels(caller=self.caller, outcome="ok").inc()
            answer.attempts = attempt
            return answer

    async def _attempt(self, messages: list[dict], max_tokens: int, stream: bool, kwargs: dict) -> LlmAnswer:
        async with self._slots:
            self.in_flight += 1
            IN_FLIGHT.labels(caller=self.caller).inc()
            started = time.monotonic()
            try:
                answer = await (self._stream if stream else self._once)(messages, max_tokens, kwargs)
            except openai.APITimeoutError:
                raise LlmError("timeout", f"no answer within {self.settings.timeout_s:g} s") from None
            except openai.APIConnectionError as exc:
                raise LlmError("connection", str(exc)[:300]) from None
            except openai.APIStatusError as exc:
                kind = "server_error" if exc.status_code >= 500 else "client_error"
                raise LlmError(kind, _error_message(exc)) from None
            except openai.APIResponseValidationError as exc:
                raise LlmError("wrong_schema", f"unreadable response: {exc}"[:300]) from None
            except (ValueError, AttributeError, TypeError) as exc:  # a 200 whose body is not a completion
                raise LlmError("invalid_response", f"{type(exc).__name__}: {exc}"[:300]) from None
            finally:
                self.in_flight -= 1
                IN_FLIGHT.labels(caller=self.caller).dec()
                LATENCY.labels(caller=self.caller).observe(time.monotonic() - started)
            answer.latency_s = time.monotonic() - started
        TOKENS.labels(caller=self.caller, kind="prompt").inc(answer.prompt_tokens)
        TOKENS.labels(caller=self.caller, kind="completion").inc(answer.completion_tokens)
        FINISH.labels(caller=self.caller, finish_reason=answer.finish_reason or "none").inc()
        if answer.finish_reason == "length":
            raise LlmError("length", f"answer truncated at {answer.completion_tokens} tokens "
                                     f"(max_tokens={max_tokens}); content starts {answer.content[:60]!r}")
        return answer

    async def _once(self, messages: list[dict], max_tokens: int, kwargs: dict) -> LlmAnswer:
        response = await self._client.chat.completions.create(
            model=self.settings.model, messages=messages, max_tokens=max_tokens, temperature=0, **_as_body(kwargs))
        if not getattr(response, "choices", None):
            raise LlmError("wrong_schema", "response has no choices")
        choice = response.choices[0]
        message = choice.message
        calls = [(c.function.name, c.function.arguments or "") for c in (message.tool_calls or [])
                 if getattr(c, "function", None) is not None]
        usage = response.usage
        return LlmAnswer(content=message.content or "", tool_calls=calls, finish_reason=choice.finish_reason or "",
                         prompt_tokens=usage.prompt_tokens if usage else 0,
                         completion_tokens=usage.completion_tokens if usage else 0)

    async def _stream(self, messages: list[dict], max_tokens: int, kwargs: dict) -> LlmAnswer:
        """Streamed completion assembled into one answer (vLLM sends usage in a last, choice-less chunk)."""
        stream = await self._client.chat.completions.create(
            model=self.settings.model, messages=messages, max_tokens=max_tokens, temperature=0, stream=True,
            stream_options={"include_usage": True}, **_as_body(kwargs))
        parts: list[str] = []
        finish, prompt_tokens, completion_tokens = "", 0, 0
        async for chunk in stream:
            for choice in chunk.choices or []:
                if choice.delta and choice.delta.content:
                    parts.append(choice.delta.content)
                finish = choice.finish_reason or finish
            if chunk.usage:
                prompt_tokens, completion_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
        return LlmAnswer(content="".join(parts), finish_reason=finish, prompt_tokens=prompt_tokens,
                         completion_tokens=completion_tokens)
