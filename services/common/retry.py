"""Which failures are worth retrying, and how long to wait between attempts (pure, no I/O).

A transient failure (the broker blipped, a request timed out, a socket closed) says nothing about the
message: retrying it later succeeds. A permanent one (the bytes do not decode, the content is invalid)
fails the same way every time, so it goes to the dead letters at once, with a reason, for a human to
look at and replay after a fix. Exhausting the retry bound on a transient failure dead-letters too.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from services.common.backoff import Backoff
from services.common.messages import BadMessage
from services.common.settings import from_env, setting

TRANSIENT = "transient"
PERMANENT = "permanent"

# Dead-letter reasons (DeadLetter.reason): stable, machine-readable.
REASON_BAD_MESSAGE = "bad_message"          # undecodable bytes or a missing required field
REASON_INVALID = "invalid"                  # decoded, but the content fails validation
REASON_RETRIES_EXHAUSTED = "retries_exhausted"
REASON_UNEXPECTED = "unexpected"            # a bug: deterministic, so retrying would not help

# Kafka errors that no retry can fix: the record or the request itself is wrong.
_PERMANENT_KAFKA_ERRORS = frozenset({
    "MessageSizeTooLargeError", "RecordTooLargeError", "InvalidTopicError", "TopicAuthorizationFailedError",
    "SerializationError", "UnsupportedVersionError", "InvalidRecordError", "CorruptRecordError",
})


class TransientError(RuntimeError):
    """Raised by handlers for a failure that a later attempt can get past (e.g. a model server busy)."""


def _is_kafka_error(exc: BaseException) -> bool:
    # aiokafka (Faust) and kafka-python (gateway, CLI) each have their own KafkaError hierarchy.
    return any(cls.__name__ == "KafkaError" for cls in type(exc).__mro__)


def classify(exc: BaseException) -> str:
    if isinstance(exc, BadMessage):
        return PERMANENT
    if isinstance(exc, TransientError | TimeoutError | asyncio.TimeoutError | ConnectionError | OSError):
        return TRANSIENT
    if _is_kafka_error(exc):
        return PERMANENT if type(exc).__name__ in _PERMANENT_KAFKA_ERRORS else TRANSIENT
    return PERMANENT


def permanent_reason(exc: BaseException) -> str:
    if isinstance(exc, BadMessage):
        return REASON_BAD_MESSAGE
    if isinstance(exc, ValueError):  # validation in the pure domain code raises ValueError subclasses
        return REASON_INVALID
    return REASON_UNEXPECTED


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = setting("INTERAREC_RETRY_MAX_ATTEMPTS", 8,
                                "transient-failure retries: attempts in total, the first included", minimum=1,
                                maximum=100)
    base_s: float = setting("INTERAREC_RETRY_BASE_S", 0.5, "transient-failure retries: first backoff",
                            minimum=0.001, maximum=60)
    max_s: float = setting("INTERAREC_RETRY_MAX_S", 10.0, "transient-failure retries: largest backoff",
                           minimum=0.001, maximum=600)

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return from_env(cls)

    def delay_s(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Wait before attempt `attempt + 1`: exponential, capped, with "equal jitter" (half fixed, half
        random) so restarted workers do not retry in lockstep, yet every wait is at least half the step."""
        return Backoff(min(self.base_s, self.max_s), self.max_s, "equal").delay_s(attempt, rand=rand)

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """An exception may carry its own, smaller bound (`max_attempts` attribute): a slow local failure such
        as an OCR timeout should not hold the partition for the whole Kafka-sized retry budget."""
        bound = min(self.max_attempts, getattr(exc, "max_attempts", None) or self.max_attempts)
        return classify(exc) == TRANSIENT and attempt < bound

    def reason(self, exc: BaseException) -> str:
        return REASON_RETRIES_EXHAUSTED if classify(exc) == TRANSIENT else permanent_reason(exc)
