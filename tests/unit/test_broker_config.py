"""infra/kafka/broker.py without Java: generated server.properties, ids, pid-file safety, CLI exit codes."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from types import ModuleType

import pytest

from services.common.topics import ALL_TOPICS


@pytest.fixture
def kb(kafka_broker_module: ModuleType) -> ModuleType:
    return kafka_broker_module


def _props(kb: ModuleType, tmp_path: Path, **kwargs: object) -> dict[str, str]:
    path = tmp_path / "server.properties"
    path.write_text(kb.server_properties(tmp_path, **kwargs))
    return kb.read_properties(path)


def test_server_properties_single_node_kraft(kb: ModuleType, tmp_path: Path) -> None:
    props = _props(kb, tmp_path, port=19092, controller_port=19093, host="127.0.0.1")
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert Path(props["log.dirs"]).parent == tmp_path.resolve()
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "transaction.state.log.min.isr", "min.insync.replicas", "default.replication.factor"):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "4"
    assert props["auto.create.topics.enable"] == "true"


def test_size_limits_fit_every_topic(kb: ModuleType, tmp_path: Path) -> None:
    props = _props(kb, tmp_path)
    message_max = int(props["message.max.bytes"])
    assert message_max == 4 * 1024 * 1024
    assert int(props["replica.fetch.max.bytes"]) >= message_max
    # A topic may lower the broker's cap but the broker must never be the tighter limit.
    assert all(spec.max_message_bytes <= message_max for spec in ALL_TOPICS)


def test_cluster_id_looks_like_kafka_uuid(kb: ModuleType) -> None:
    ids = {kb.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_version_is_pinned_4x(kb: ModuleType, tmp_path: Path) -> None:
    assert kb.kafka_version().startswith("4.")
    assert not kb.is_installed(tmp_path)
    assert kb.kafka_home(tmp_path) == tmp_path / kb.kafka_version()


def test_java_command_small_heap_and_classpath(kb: ModuleType, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERAREC_KAFKA_JVM_OPTS", "-Dextra=1")
    cmd = kb.java_command(tmp_path / "home", tmp_path, kb.BROKER_HEAP, "kafka.Kafka", "server.properties")
    assert "-Xmx512m" in cmd and "-Dextra=1" in cmd
    assert cmd[cmd.index("-cp") + 1] == str(tmp_path / "home" / "libs" / "*")
    assert cmd[-2:] == ["kafka.Kafka", "server.properties"]
    assert cmd.index("-Dextra=1") > cmd.index("-XX:+UseSerialGC")  # user flags come last and win


def test_free_ports_are_distinct_and_bindable(kb: ModuleType) -> None:
    ports = kb.free_ports(5)
    assert len(set(ports)) == 5
    with socket.socket() as s:
        s.bind(("127.0.0.1", kb.free_port()))


def test_stale_pid_file_is_not_adopted(kb: ModuleType, tmp_path: Path) -> None:
    (tmp_path / kb.PID_FILE).write_text(f"{os.getpid()}\n")  # alive, but not a Kafka broker
    assert kb.running(tmp_path) is None
    (tmp_path / kb.PID_FILE).write_text("999999999\n")
    assert kb.running(tmp_path) is None


def test_start_refuses_a_busy_port_before_launching_java(kb: ModuleType, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(kb.BrokerError, match="already in use"):
            kb.start(tmp_path, port=s.getsockname()[1], controller_port=kb.free_port(), cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_cli_status_and_stop_without_broker(kb: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert kb.main(["status", "--data-dir", str(tmp_path)]) == 1
    assert "down" in capsys.readouterr().out
    assert kb.main(["stop", "--data-dir", str(tmp_path)]) == 0
