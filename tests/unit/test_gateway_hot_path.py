"""The frame upload's hot path stays on the event loop: FastAPI runs a plain-def dependency on a worker
thread, a hand-off per request that cost several percent of the gateway's CPU per frame (py-spy)."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

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
