"""An ASGI app under uvicorn in a thread, for tests and benchmarks that need a real server (SSE and the
producer need one: a test client buffers whole bodies)."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from infra.kafka.broker import free_port


class Served:
    """`port` None: a free one. Ready once uvicorn listens and, with `ready_path`, that path answers 200 (the
    app's lifespan, run unless `lifespan` is False, has started its clients). `loop`, `http`: as the service
    runs them (services/common/serve.py; the gateway: uvloop and httptools), never uvicorn's "auto"."""

    def __init__(self, app, port: int | None = None, *, lifespan: bool = True, ready_path: str | None = "/readyz",
                 loop: str = "asyncio", http: str = "h11"):
        if port is None:
            port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                    lifespan="on" if lifespan else "off",
                                                    timeout_graceful_shutdown=3, loop=loop, http=http))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.server.started and self.ready_path is None:
                return self
            if self.server.started:
                try:
                    if httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.url} did not become ready")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
