"""An in-memory driver for a stream stage's handler, as Kafka Streams' TopologyTestDriver is for a topology:
records go in as Faust-like events, what the handler sends is collected per topic, tables are plain dicts.
No broker, no Faust app: a unit test exercises exactly the handler the worker registers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Message:
    topic: str
    partition: int = 0
    offset: int = 0


@dataclass
class Event:
    key: bytes | None
    value: bytes
    message: Message
    headers: dict = field(default_factory=dict)


@dataclass
class Sent:
    topic: str
    key: bytes
    value: bytes


class StageDriver:
    def __init__(self):
        self.sent: list[Sent] = []
        self._offsets: dict[str, int] = {}

    async def send(self, sends) -> list:
        """Stands in for services.common.worker.send_and_wait: every record counts as acknowledged."""
        self.sent.extend(Sent(str(topic), key, value) for topic, key, value in sends)
        return [None for _ in sends]

    def pipe(self, handler, topic: str, key: bytes | None, value: bytes, partition: int = 0) -> list[Sent]:
        """Run `handler` on one record of `topic`; returns what it sent."""
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        before = len(self.sent)
        asyncio.run(handler(Event(key, value, Message(topic, partition, offset))))
        return self.sent[before:]

    def output(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]
