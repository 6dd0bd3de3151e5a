"""The frame upload's hot path stays on the event loop: FastAPI runs a plain-def dependency on a worker
thread, a hand-off per request that cost several percent of the gateway's CPU per frame (py-spy); and it skips
FastAPI's per-request dependency solving altogether."""

from __future__ import annotations

import inspect

import fastapi.routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.common.tenants import ApiKeys
from services.gateway.app import GatewaySettings, create_app
from services.gateway.dependencies import FRAMES_PATH
from services.gateway.routes import frames


def _calls(dependant):
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def test_frame_routes_resolve_every_dependency_on_the_event_loop():
    routes = [r for r in frames.router(1024 * 1024).routes if isinstance(r, APIRoute) and r.path == FRAMES_PATH]
    assert {m for r in routes for m in r.methods} >= {"POST", "OPTIONS"}
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint)
        sync = [call.__name__ for call in _calls(route.dependant) if not inspect.iscoroutinefunction(call)]
        assert sync == [], f"{route.methods}: dependencies run on a worker thread: {sync}"


def test_a_frame_request_runs_without_fastapis_dependency_solving(monkeypatch):
    """The upload runs its endpoint directly (routes/frames.DirectRoute): no dependency solving per frame, the
    checks and the error envelope unchanged. No lifespan here: nothing on this path reaches Kafka."""
    calls = []
    original = fastapi.routing.solve_dependencies

    async def counted(*args, **kwargs):
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    client = TestClient(create_app(GatewaySettings(bootstrap="127.0.0.1:9",
                                                   api_keys=ApiKeys.from_plain({"k1": "acme"}))))
    assert client.get("/healthz").status_code == 200 and calls, "the counter sees FastAPI's solver"
    calls.clear()
    resp = client.post("/v1/sessions/s-1/frames", content=b"not an image",
                       headers={"X-API-Key": "k1", "Content-Type": "text/plain"})
    assert resp.status_code == 415 and resp.json()["error"]["code"] == "unsupported_media_type"
    resp = client.post("/v1/sessions/s-1/frames", content=b"x", headers={"Content-Type": "image/jpeg"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"
    resp = client.post("/v1/sessions/bad%20id/frames", content=b"x",
                       headers={"X-API-Key": "k1", "Content-Type": "image/jpeg"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "bad_session_id"
    assert calls == []
