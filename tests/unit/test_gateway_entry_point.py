"""`python -m services.gateway` serves on uvloop and httptools (less CPU per frame than asyncio and h11), chosen
by name in its own entry point; INTERAREC_GATEWAY_LOOP / _HTTP switch back. Observed in the running process's
loaded libraries (/proc/<pid>/maps), no broker needed: /healthz answers without Kafka."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from infra.kafka.broker import free_port
from services.common.tenants import hash_key

ROOT = Path(__file__).resolve().parents[2]


def loaded_libraries(env: dict[str, str]) -> str:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "services.gateway"], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "INTERAREC_GATEWAY_PORT": str(port),
                                                               "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
                                                               "INTERAREC_API_KEYS": f"t:{hash_key('k')}", **env})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"gateway exited with {process.returncode}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return Path(f"/proc/{process.pid}/maps").read_text()
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("gateway did not answer /healthz within 30 s")
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_the_gateway_serves_on_uvloop_and_httptools_unless_told_otherwise():
    fast = loaded_libraries({})
    assert "/uvloop/" in fast and "/httptools/" in fast
    plain = loaded_libraries({"INTERAREC_GATEWAY_LOOP": "asyncio", "INTERAREC_GATEWAY_HTTP": "h11"})
    assert "/uvloop/" not in plain and "/httptools/" not in plain
