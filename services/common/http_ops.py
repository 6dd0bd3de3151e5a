"""The one operations router of every HTTP service: /healthz (the process answers, and can still recover: else
503 with the reason, so the orchestrator restarts it), /readyz (it can do its work; 503 with the reason until
then) and /metrics (Prometheus exposition)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from services.common import metrics

# ready() -> (ready?, body): the body says what it waits for, or what it serves.
Readiness = Callable[[], tuple[bool, dict]]


def ops_router(ready: Readiness, health: Callable[[], dict] | None = None,
               failed: Callable[[], str | None] | None = None) -> APIRouter:
    """failed() -> why the process can never do its work again without a restart, or None."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", responses={200: {"description": "alive"},
                                       503: {"description": "failed for good: restart the process"}})
    async def healthz() -> JSONResponse:
        reason = failed() if failed else None
        if reason:
            return JSONResponse({"status": "failed", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ok", **(health() if health else {})})

    @router.get("/readyz", responses={200: {"description": "ready"}, 503: {"description": "not ready yet"}})
    async def readyz() -> JSONResponse:
        ok, body = ready()
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return router
