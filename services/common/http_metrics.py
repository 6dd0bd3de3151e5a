"""Responses by status and unhandled exceptions, counted the same way in every HTTP service.

The route label is the route's template (`/v1/sessions/{session_id}/feedback`), never the raw path, so a
client cannot grow the series by inventing paths: anything unrouted counts as `unmatched`."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("interarec_http_requests_total", "HTTP responses, by service, route template and status",
                   ["service", "route", "status"])
EXCEPTIONS = Counter("interarec_http_exceptions_total",
                     "Unhandled exceptions in HTTP handlers (each answered 500), by service, route and type",
                     ["service", "route", "exception"])
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class HttpMetrics:
    """Pure ASGI middleware (streaming responses pass straight through)."""

    def __init__(self, app: ASGIApp, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        except Exception as exc:
            EXCEPTIONS.labels(self.service, route_template(scope), type(exc).__name__).inc()
            status = 500  # what the outermost error middleware answers
            raise
        finally:
            REQUESTS.labels(self.service, route_template(scope), str(status)).inc()


def instrument(app: FastAPI, service: str) -> None:
    """service: the component name as the chart calls it (gateway, storefront-api, demo-shop), so the label
    agrees with the `service` target label Prometheus adds when it scrapes."""
    app.add_middleware(HttpMetrics, service=service)
