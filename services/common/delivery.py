"""What an asyncio Kafka producer of ours offers its callers, whichever client library is underneath
(kafka_producer.py: kafka-python; rdkafka_producer.py: librdkafka): `await send()` resolves with where the
broker holds the record, only once it acknowledged it (acks=all), or raises one of the errors below."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class BrokerUnavailable(RuntimeError):
    """The producer has no connection to the cluster yet, or cannot take another record now: nothing was sent."""


class DeliveryFailed(RuntimeError):
    """The record was handed to the client but the broker did not acknowledge it (librdkafka's error, named)."""


class Delivered(NamedTuple):
    topic: str
    partition: int
    offset: int


class Producer(Protocol):
    """The interface the gateway sends frames through."""

    @property
    def ready(self) -> bool: ...

    def start(self) -> None: ...

    async def send(self, topic: str, key: bytes, value: bytes, timeout_s: float = 10.0) -> Delivered: ...

    def close(self, timeout_s: float = 10.0) -> None: ...
