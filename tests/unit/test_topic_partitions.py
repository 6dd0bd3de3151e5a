"""INTERAREC_KAFKA_PARTITIONS: one partition count for every session-keyed topic, read once per process; and the
bootstrap list every process connects to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.common.config import ConfigError, bootstrap_addresses
from services.common.topics import DEAD_LETTERS, SESSION_KEYED
from tests.stage_driver import run_worker_offline


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


def test_a_bootstrap_list_is_read_as_every_kafka_client_reads_it():
    assert bootstrap_addresses("kafka-0:9093, kafka-1,[::1]:19092") == [("kafka-0", 9093), ("kafka-1", 9092),
                                                                          ("::1", 19092)]
    for bad in ("kafka-0:", "kafka-0:90x2", ":9092", " , ", "kafka-0:70000"):
        with pytest.raises(ConfigError, match="INTERAREC_KAFKA_BOOTSTRAP_SERVERS="):
            bootstrap_addresses(bad)


def test_a_malformed_bootstrap_list_stops_a_worker_with_one_line_naming_the_variable():
    run = run_worker_offline("decomposer", INTERAREC_KAFKA_BOOTSTRAP_SERVERS="kafka-0:9O92")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("decomposer: configuration error: INTERAREC_KAFKA_BOOTSTRAP_SERVERS='kafka-0:9O92':"
                                  " 'kafka-0:9O92' is not host:port")
