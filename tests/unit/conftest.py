"""Fixtures shared by the unit tests of the model path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.llm_replay.server import ReplayServer


@pytest.fixture(scope="module")
def replay_server() -> Iterator[ReplayServer]:
    """One server per test module (it replays the recorded vLLM traffic in shared/fixtures)."""
    with ReplayServer() as server:
        yield server


@pytest.fixture
def replay(replay_server: ReplayServer) -> ReplayServer:
    """The module's replay server, answering as recorded and with no requests seen, for each test."""
    replay_server.state.reset()
    return replay_server
