"""A recording reverse proxy for an OpenAI-compatible server: each exchange the project's client makes is
forwarded unchanged and saved in the fixture format of tests/fixtures/vllm-openai-0.32.0/
({"request": {method, path, json}, "response": {status, content_type, body}}; a streamed body as raw SSE).
`make test-vllm` puts it between the backends and the real engine, so the recordings are the project's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from .server import ReplayServer, ReplayState


def make_app(upstream: str, out_dir: Path, names: list[str]) -> FastAPI:
    """names: the file stem for each next exchange (popped in order; "exchange-N" once it runs out)."""
    app = FastAPI()
    client = httpx.AsyncClient(base_url=upstream.removesuffix("/v1"), timeout=600)
    count = [0]

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def forward(path: str, request: Request) -> Response:
        raw = await request.body()
        upstream_resp = await client.request(request.method, "/" + path, content=raw,
                                             headers={"content-type": request.headers.get("content-type", "")})
        body_bytes = upstream_resp.content
        ctype = upstream_resp.headers.get("content-type", "")
        count[0] += 1
        stem = names.pop(0) if names else f"exchange-{count[0]}"
        try:
            req: dict = {"method": request.method, "path": "/" + path, "json": json.loads(raw)} if raw else \
                {"method": request.method, "path": "/" + path}
        except ValueError:
            req = {"method": request.method, "path": "/" + path, "raw_body": raw.decode("utf-8", "replace")}
        try:
            body = json.loads(body_bytes) if ctype.startswith("application/json") else body_bytes.decode()
        except ValueError:
            body = body_bytes.decode("utf-8", "replace")
        record = {"request": req, "response": {"status": upstream_resp.status_code, "content_type": ctype,
                                               "body": body}}
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{re.sub(r'[^a-z0-9_-]+', '_', stem)}.json").write_text(json.dumps(record, indent=1) + "\n")
        return Response(content=body_bytes, status_code=upstream_resp.status_code, media_type=ctype or None)

    return app


class RecordingProxy(ReplayServer):
    """Same lifecycle as the replay server (free loopback port, background thread), different app."""

    def __init__(self, upstream: str, out_dir: Path, host: str = "127.0.0.1"):
        self.names: list[str] = []  # set names[:] before a call to name its recording
        super().__init__(ReplayState(), host, app=make_app(upstream, out_dir, self.names))
