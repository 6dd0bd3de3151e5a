"""The frame upload's hot path stays on the event loop: FastAPI runs a plain-def dependency on a worker
thread, a hand-off per request that cost several percent of the gateway's CPU per frame (py-spy); it skips
FastAPI's per-request dependency solving and, served as plain ASGI, its router and exception middleware, with
every guarantee of the route kept (limits before the body, the envelope, the counters, CORS)."""

from __future__ import annotations

import inspect

import fastapi.routing
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.middleware.exceptions import ExceptionMiddleware

from services.common.session_tokens import SessionTokens
from services.common.tenants import ApiKeys, TenantOrigins
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
    """The upload is served as plain ASGI (routes/frames.UploadRoute): no dependency solving per frame, the
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


SHOP = "https://shop.example"
SECRET = b"hot-path-test-secret-0123456789abcdef"


@pytest.fixture
def gateway() -> TestClient:
    return TestClient(create_app(GatewaySettings(
        bootstrap="127.0.0.1:9", api_keys=ApiKeys.from_plain({"k1": "acme"}), max_upload_bytes=4096,
        token_secret=SECRET, origins=TenantOrigins.parse(f"acme={SHOP}"))), raise_server_exceptions=False)


def counted(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_upload_skips_fastapis_router_and_exception_middleware(gateway, monkeypatch):
    entered = []
    original = ExceptionMiddleware.__call__

    async def spy(self, scope, receive, send):
        entered.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(ExceptionMiddleware, "__call__", spy)
    assert gateway.get("/healthz").status_code == 200 and entered == ["/healthz"], "the spy sees FastAPI's stack"
    entered.clear()
    resp = gateway.post("/v1/sessions/s-1/frames", content=b"x", headers={"X-API-Key": "k1",
                                                                          "Content-Type": "text/plain"})
    assert resp.status_code == 415 and entered == []
    # the preflight and a wrong method still go through FastAPI (and its envelope)
    assert gateway.get("/v1/sessions/s-1/frames").json()["error"]["code"] == "method_not_allowed"
    assert entered == ["/v1/sessions/s-1/frames"]


def test_the_plain_upload_keeps_the_limits_before_the_body_the_envelope_counters_and_cors(gateway):
    path = "/v1/sessions/s-1/frames"
    route = "/v1/sessions/{session_id}/frames"
    big = b"x" * 5000
    requests_413 = counted("interarec_http_requests_total", service="gateway", route=route, status="413")
    too_large = counted("interarec_gateway_frames_total", outcome="body_too_large")
    # no credentials: 401 whatever the body's size
    resp = gateway.post(path, content=big, headers={"Content-Type": "image/jpeg"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "unauthorized")
    # declared over the limit, and streamed (chunked, no Content-Length) past it: 413 in the envelope
    resp = gateway.post(path, content=big, headers={"X-API-Key": "k1", "Content-Type": "image/jpeg"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (413, "body_too_large")
    resp = gateway.post(path, content=(b"x" * 1024 for _ in range(5)),
                        headers={"X-API-Key": "k1", "Content-Type": "image/jpeg"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (413, "body_too_large")
    resp = gateway.post(path, content=b"x", headers={"X-API-Key": "k1", "Content-Length": "12x",
                                                     "Content-Type": "image/jpeg"})
    assert resp.status_code == 400
    # counted by route template and outcome as any route
    assert counted("interarec_http_requests_total", service="gateway", route=route, status="413") \
        == requests_413 + 2
    assert counted("interarec_gateway_frames_total", outcome="body_too_large") == too_large + 2
    # a browser's refusal carries CORS headers, so the capture script can read its code and Retry-After
    token, _ = SessionTokens(SECRET, 900).mint("acme", "s-1", 10**10 - 1)
    resp = gateway.post(path, content=b"not a jpeg", headers={"Authorization": f"Bearer {token}", "Origin": SHOP,
                                                             "Content-Type": "image/jpeg"})
    assert resp.status_code == 400 and resp.headers["access-control-allow-origin"] == SHOP
    assert resp.headers["access-control-expose-headers"] == "Retry-After"
