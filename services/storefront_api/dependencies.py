"""What every storefront route depends on: the app's shared state (Context), authentication (an API key,
or a session token for exactly the session in the path), the per-tenant rate limit, and the documented
error answers. The auth dependencies run before the request body is read (common/http_limits.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPBearer
from prometheus_client import Counter

from services.common.catalog import Catalog
from services.common.http_errors import ApiError, error_responses
from services.common.http_limits import before_body
from services.common.kafka_producer import AsyncProducer
from services.common.keys import SESSION_ID_PATTERN, SESSION_ID_RULE
from services.common.ratelimit import RateLimiter, retry_after_header
from services.common.session_tokens import SessionTokens, TokenError
from services.core.reading.grounding import Grounder
from services.storefront_api.access import StreamSlots
from services.storefront_api.latest import LatestRecommendations
from services.storefront_api.trending import Trending

if TYPE_CHECKING:
    from services.storefront_api.app import StorefrontSettings
    from services.storefront_api.model_queries import ModelQueries

PRODUCT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
REQUESTS = Counter("interarec_storefront_api_requests_total", "Authenticated requests, by endpoint and outcome",
                   ["endpoint", "outcome"])

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the tenant's API key (server side)")
token_query = APIKeyQuery(name="token", auto_error=False, description="session token (browser; SSE)")
bearer = HTTPBearer(auto_error=False, description="session token (browser)")


@dataclass
class Context:
    """Everything the routes share, built once by create_app (app.state.ctx)."""

    settings: StorefrontSettings
    catalog: Catalog
    store: LatestRecommendations
    trending: Trending
    tokens: SessionTokens
    limiter: RateLimiter
    slots: StreamSlots
    producer: AsyncProducer
    solver_pool: ThreadPoolExecutor  # direct questions solve in-process, one at a time, off the event loop
    grounder: Grounder  # image queries' OCR grounded in the catalog; its indexes are built once
    models: ModelQueries | None = None  # set when queries ask the model first (started on the serving loop)
    extras: dict[str, Any] = field(default_factory=dict)  # lifespan-owned objects (reader, warm-up task)


def context(request: Request) -> Context:
    return request.app.state.ctx


Ctx = Annotated[Context, Depends(context)]


@dataclass(frozen=True)
class Caller:
    tenant: str
    session_id: str | None  # set for a session token: the only session it may touch


def session_path():
    return Path(pattern=SESSION_ID_PATTERN, max_length=64, examples=["abc123"],
                description=f"the shop's visitor session id: {SESSION_ID_RULE}")


def product_path():
    return Path(pattern=PRODUCT_ID_PATTERN, examples=["P00042"])


def not_found(session_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no recommendation for session {session_id!r}")


def errors(*codes: int) -> dict:
    return error_responses(*codes, text={403: "Token not valid here", 404: "Not found (also: another tenant's session)",
                                         415: "Not an image", 429: "Rate or stream limit reached; see Retry-After",
                                         503: "Kafka unavailable: nothing was written"})


def _rate_limit(ctx: Context, tenant: str, endpoint: str) -> None:
    wait = ctx.limiter.acquire(tenant, time.monotonic())
    if wait > 0:
        REQUESTS.labels(endpoint=endpoint, outcome="rate_limited").inc()
        raise ApiError(429, "rate_limited", f"rate limit of {ctx.settings.rate_per_s:g} requests/s reached",
                       headers={"Retry-After": retry_after_header(wait)})


def _unauthorized(endpoint: str, message: str) -> ApiError:
    REQUESTS.labels(endpoint=endpoint, outcome="unauthorized").inc()
    return ApiError(401, "unauthorized", message)


def tenant_caller(endpoint: str):
    """Dependency: the API key's tenant (server-to-server endpoints). Runs once, before the body is read."""
    @before_body
    async def dep(request: Request, _key: Annotated[str | None, Security(api_key_header)] = None) -> Caller:
        if (cached := getattr(request.state, "caller", None)) is not None:
            return cached
        ctx = context(request)
        tenant = ctx.settings.api_keys.tenant_for(await api_key_header(request))
        if tenant is None:
            raise _unauthorized(endpoint, "missing or unknown X-API-Key")
        _rate_limit(ctx, tenant, endpoint)
        request.state.caller = Caller(tenant, None)
        return request.state.caller
    return dep


def session_caller(endpoint: str):
    """Dependency: an API key, or a session token for exactly the session in the path."""
    @before_body
    async def dep(request: Request, _key: Annotated[str | None, Security(api_key_header)] = None,
                  _token: Annotated[str | None, Security(token_query)] = None,
                  _auth: Annotated[object, Security(bearer)] = None) -> Caller:
        if (cached := getattr(request.state, "caller", None)) is not None:
            return cached
        ctx = context(request)
        request.state.caller = await _session_caller(ctx, request, endpoint)
        return request.state.caller
    return dep


async def _session_caller(ctx: Context, request: Request, endpoint: str) -> Caller:
    key = await api_key_header(request)
    if key:
        tenant = ctx.settings.api_keys.tenant_for(key)
        if tenant is None:
            raise _unauthorized(endpoint, "unknown X-API-Key")
        _rate_limit(ctx, tenant, endpoint)
        return Caller(tenant, None)
    auth = await bearer(request)
    token = auth.credentials if auth is not None else await token_query(request)
    if not token:
        raise _unauthorized(endpoint, "send X-API-Key, or a session token as ?token= or Bearer")
    try:
        tenant, session_id = ctx.tokens.verify(token, time.time())
    except TokenError as exc:
        raise _unauthorized(endpoint, str(exc)) from None
    if session_id != request.path_params.get("session_id"):
        REQUESTS.labels(endpoint=endpoint, outcome="forbidden").inc()
        raise ApiError(403, "forbidden", "this session token is for another session")
    _rate_limit(ctx, tenant, endpoint)
    return Caller(tenant, session_id)
