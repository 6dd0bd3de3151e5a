"""An OpenAI-compatible HTTP server that answers with recorded vLLM traffic, for tests and benchmarks.

It stands in for the GPU vLLM server only. Every body it sends comes from a recording in
`tests/fixtures/vllm-openai-0.32.0/` (real vLLM 0.32.0 exchanges), chosen by the request's shape:
a named or "required" tool choice -> the recorded tool call, a JSON-schema request -> the recorded
JSON answer (or the raw SSE stream when `stream` is set), more than 4 images / an undecodable image /
an unknown model / too large `max_tokens` / a body that is not JSON -> that recorded error.

Tests steer it through `ReplayState`:
- `content` / `tool_arguments`: replace the recorded answer's `message.content` or the tool call's
  `arguments` string (the envelope -- ids, usage, finish_reason -- stays the recorded one). A callable
  receives the request JSON, so an answer can depend on the prompt.
- `mode`: "ok", "slow" (sleep `delay_s` before answering), "garbage" (200 with a non-JSON body),
  "wrong_schema" (the recorded JSON answer as is: it follows the recording's schema, not ours),
  "length" (the recorded truncated answer, finish_reason "length"), "server_error" (HTTP 500 in vLLM's
  error envelope; vLLM has no recording of this, the body follows the recorded 4xx envelopes),
  or "error:<fixture>" for a recorded error (e.g. "error:error_context_too_long").
- `exchange`: answer every chat request with this recorded exchange (e.g. one of the project's own
  recordings in tests/fixtures/interarec-vllm-0.32.0/), whatever the request.
- `delay_s` applies in every mode (the benchmark's fixed 1 s model), `max_concurrency` caps requests
  served at once (like vLLM's --max-num-seqs): the server's own throughput limit is max_concurrency/delay_s.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "vllm-openai-0.32.0"
MAX_IMAGES = 4          # the recording's --limit-mm-per-prompt
MAX_MODEL_LEN = 2048    # the recording's --max-model-len
SERVED_MODEL = "tiny-vlm"


def load_fixtures(folder: Path = FIXTURES) -> dict[str, dict]:
    out = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    metrics = (folder / "metrics.txt").read_text()
    out["metrics"] = {"response": {"status": 200, "content_type": "text/plain", "body": metrics}}
    return out


@dataclass
class ReplayState:
    mode: str = "ok"
    delay_s: float = 0.0
    max_concurrency: int = 1_000_000
    content: str | Callable[[dict], str] | None = None
    tool_arguments: str | Callable[[dict], str] | None = None
    served_model: str = SERVED_MODEL
    exchange: dict | None = None    # a recorded exchange to answer every chat request with, as recorded
    requests: list[dict] = field(default_factory=list)   # every chat request received (JSON), in order
    keep_requests: bool = True
    answered: int = 0

    def reset(self) -> None:
        """Back to answering every request as recorded, forgetting what was received (between tests)."""
        self.mode, self.delay_s, self.content, self.tool_arguments = "ok", 0.0, None, None
        self.requests.clear()


def _recorded(fixture: dict) -> Response:
    resp = fixture["response"]
    body, status = resp["body"], resp["status"]
    ctype = (resp.get("content_type") or "application/json").split(";")[0]
    if isinstance(body, str):
        if ctype == "application/json":
            return Response(content=body, status_code=status, media_type=ctype)
        return PlainTextResponse(body, status_code=status, media_type=ctype)
    return JSONResponse(body, status_code=status)


def _images(body: dict) -> list[str]:
    urls = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            urls += [p["image_url"]["url"] for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    return urls


def _bad_image(url: str) -> bool:
    if not url.startswith("data:image/"):
        return False  # the server would fetch it; the replay does not judge remote URLs
    try:
        raw = base64.b64decode(url.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        return True
    return not raw.startswith((b"\x89PNG", b"\xff\xd8", b"RIFF", b"GIF8"))


def _value(v: str | Callable[[dict], str], body: dict) -> str:
    return v(body) if callable(v) else v


def make_app(state: ReplayState, fixtures: dict[str, dict] | None = None) -> FastAPI:
    fx = fixtures or load_fixtures()
    app = FastAPI()
    slots: dict[str, asyncio.Semaphore] = {}

    @app.get("/health")
    async def health() -> Response:
        return _recorded(fx["get_health"])

    @app.get("/v1/models")
    async def models() -> Response:
        return _recorded(fx["get_v1_models"])

    @app.get("/metrics")
    async def metrics() -> Response:
        return _recorded(fx["metrics"])

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        sem = slots.setdefault("chat", asyncio.Semaphore(state.max_concurrency))
        async with sem:
            raw = await request.body()
            if state.keep_requests:  # on arrival, so a slow answer never lands in a later test's list
                try:
                    if isinstance(body := json.loads(raw), dict):
                        state.requests.append(body)
                except ValueError:
                    pass
            if state.delay_s or state.mode == "slow":
                await asyncio.sleep(state.delay_s)
            response = answer(raw)
            state.answered += 1
            return response

    def answer(raw: bytes) -> Response:
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return _recorded(fx["error_malformed_json"])
        mode = state.mode
        if state.exchange is not None:
            return _recorded(state.exchange)
        if mode.startswith("error:"):
            return _recorded(fx[mode.removeprefix("error:")])
        if mode == "server_error":
            return JSONResponse({"error": {"message": "EngineCore encountered an issue.", "type": "InternalServerError",
                                           "param": None, "code": 500}}, status_code=500)
        if mode == "garbage":
            return Response(content=b"<html>502 bad gateway</html>", status_code=200, media_type="application/json")
        if body.get("model") != state.served_model:
            return _recorded(fx["error_unknown_model"])
        if int(body.get("max_tokens") or 0) > MAX_MODEL_LEN:
            return _recorded(fx["error_max_tokens_too_large"])
        images = _images(body)
        if len(images) > MAX_IMAGES:
            return _recorded(fx["error_too_many_images"])
        if any(_bad_image(u) for u in images):
            return _recorded(fx["error_bad_image_data"])
        if mode == "length":
            return _recorded(fx["truncated_length"])
        if body.get("tools"):
            named = isinstance(body.get("tool_choice"), dict)
            fixture = copy.deepcopy(fx["tool_named" if named else "tool_required"])
            if state.tool_arguments is not None and mode != "wrong_schema":
                call = fixture["response"]["body"]["choices"][0]["message"]["tool_calls"][0]["function"]
                call["name"] = body["tools"][0]["function"]["name"]
                call["arguments"] = _value(state.tool_arguments, body)
            return _recorded(fixture)
        if body.get("stream"):
            return _recorded(fx["chat_images_json_schema_stream"])
        fixture = copy.deepcopy(fx["chat_images_json_schema"])
        if state.content is not None and mode != "wrong_schema":
            fixture["response"]["body"]["choices"][0]["message"]["content"] = _value(state.content, body)
        return _recorded(fixture)

    return app


class ReplayServer:
    """The replay app on a free loopback port, served by uvicorn in a background thread."""

    def __init__(self, state: ReplayState | None = None, host: str = "127.0.0.1", app: FastAPI | None = None):
        self.state = state or ReplayState()
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app or make_app(self.state), log_level="warning", lifespan="off",
                                backlog=2048, timeout_keep_alive=30, loop="asyncio", http="h11")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name="llm-replay")

    @property
    def url(self) -> str:
        """The OpenAI base URL (with /v1)."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ReplayServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("replay server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main() -> None:
    """Serve the replay on a port, for manual runs: python -m infra.llm_replay.server [--delay 1]."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=1_000_000)
    args = parser.parse_args()
    with ReplayServer(ReplayState(delay_s=args.delay, max_concurrency=args.max_concurrency)) as server:
        print(f"replaying recorded vLLM traffic at {server.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
