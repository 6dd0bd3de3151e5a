"""An in-memory driver for a stream stage's handler, as Kafka Streams' TopologyTestDriver is for a topology:
records go in as Faust-like events, what the handler sends is collected per topic, tables are plain dicts.
No broker, no Faust app: a unit test exercises exactly the handler the worker registers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def run_worker_offline(service: str, **env: str) -> subprocess.CompletedProcess:
    """Import the worker's agents and app modules with no catalog and no broker (so nothing may be built at
    import), then run `python -m services.<service>` in the same process; returns the finished run."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'proto'}",
           "INTERAREC_CATALOG_PATH": "/nonexistent/catalog.parquet", "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
           **env}
    code = (f"import services.{service}.agents, services.{service}.app\n"
            f"import runpy, sys; sys.argv = [{service!r}]; runpy.run_module('services.{service}', run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)


def build_offline(build, settings_cls, tmp_path: Path, monkeypatch):
    """`build(from_env(settings_cls))` over a small generated catalog and in-memory tables: no broker needed."""
    from services.common.demo_catalog import generate
    from services.common.settings import from_env

    monkeypatch.setenv("INTERAREC_CATALOG_PATH", str(generate(tmp_path / "catalog", n_products=200)))
    monkeypatch.setenv("INTERAREC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("INTERAREC_STATE_STORE", "memory")
    return build(from_env(settings_cls))
