"""INTERAREC_KAFKA_PARTITIONS: one partition count for every session-keyed topic, read once per process."""

from __future__ import annotations

import os
import subprocess
import sys

from services.common.topics import DEAD_LETTERS, SESSION_KEYED


def _topics(partitions: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.common.topics", "list"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "INTERAREC_KAFKA_PARTITIONS": partitions})


def test_the_setting_sizes_every_session_keyed_topic_and_only_those():
    listed = dict(line.split("\t")[:2] for line in _topics("32").stdout.splitlines())
    assert {name for name, size in listed.items() if size == "partitions=32"} == {s.name for s in SESSION_KEYED}
    assert listed[DEAD_LETTERS.name] == f"partitions={DEAD_LETTERS.partitions}"


def test_a_bad_count_stops_the_process_with_a_message_naming_the_variable():
    for bad in ("0", "four", "100000"):
        run = _topics(bad)
        assert run.returncode == 1
        assert run.stderr.startswith("configuration error: INTERAREC_KAFKA_PARTITIONS=")
        assert "Traceback" not in run.stderr
