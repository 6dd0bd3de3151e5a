"""`make run` / the local stack: every INTERAREC_* setting the user chose reaches the services, and a second
`make run` while an earlier one is still stopping says so in one line instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from infra.local.stack import STACK_WIRING, Stack, user_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_the_user_chose_reaches_the_services_but_the_stacks_wiring():
    environ = {"HOME": "/root", "INTERAREC_API_KEYS": "demo:x,globex:y", "INTERAREC_GATEWAY_RATE_LIMIT": "5",
               "INTERAREC_LLM_BASE_URL": "http://127.0.0.1:1/v1", "INTERAREC_GATEWAY_PORT": "1",
               "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": "elsewhere:9092"}
    chosen, ignored = user_settings(environ)
    assert chosen == {"INTERAREC_API_KEYS": "demo:x,globex:y", "INTERAREC_GATEWAY_RATE_LIMIT": "5",
                      "INTERAREC_LLM_BASE_URL": "http://127.0.0.1:1/v1"}
    assert ignored == ["INTERAREC_GATEWAY_PORT", "INTERAREC_KAFKA_BOOTSTRAP_SERVERS"]
    assert set(ignored) <= set(STACK_WIRING)
    stack = Stack(bootstrap="127.0.0.1:1", catalog_path=Path("c.parquet"), log_dir=Path("logs"),
                  var_dir=Path("var"), extra_env=chosen)
    env = stack.env()
    # the user's value wins over the stack's demo default; the stack's own wiring stays
    assert env["INTERAREC_API_KEYS"] == "demo:x,globex:y" and env["INTERAREC_GATEWAY_RATE_LIMIT"] == "5"
    assert env["INTERAREC_GATEWAY_PORT"] == str(stack.ports.gateway)
    assert env["INTERAREC_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1"


def test_a_second_make_run_while_the_first_is_stopping_says_so_in_one_line(tmp_path, monkeypatch):
    env = {**os.environ, "INTERAREC_VAR_DIR": str(tmp_path), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'proto'}"}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from infra.local.run import acquire_run_lock; lock = acquire_run_lock(); "
                               "print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "infra.local.run", "--exit-when-done"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert second.stdout.strip().splitlines() == [
            f"make run: an earlier `make run` (pid {holder.pid}) is still running or stopping; wait until it has "
            "exited, then start again"]
        assert "Traceback" not in second.stderr
        assert time.monotonic() - started < 30  # answered at once, before any broker or service started
    finally:
        holder.kill()
        holder.wait()
    # once the earlier run has exited, the lock is free again
    from infra.local import run
    monkeypatch.setenv("INTERAREC_VAR_DIR", str(tmp_path))
    run.acquire_run_lock().close()
