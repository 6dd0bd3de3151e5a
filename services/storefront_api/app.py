"""Storefront API for shops: per-tenant recommendations (latest, history, SSE), feedback, similar products,
text and image queries, trending. Authentication: a tenant's API key (server to server) or a short-lived
session token (a shopper's browser, one session only). Every lookup is scoped by tenant, and a session of
another tenant answers exactly like a missing one."""


import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from services.common import config, tenants
from services.common.catalog import Catalog
from services.common.http_errors import install_error_handlers
from services.common.http_metrics import instrument
from services.common.http_ops import ops_router
from services.common.kafka_producer import AsyncProducer
from services.common.llm import LlmSettings
from services.common.ratelimit import RateLimiter
from services.common.session_tokens import SessionTokens
from services.common.tenants import ApiKeys
from services.core import business_rules
from services.storefront_api.access import StreamSlots
from services.storefront_api.dependencies import Context
from services.storefront_api.latest import LatestRecommendations
from services.storefront_api.model_queries import BACKENDS, ModelQueries
from services.storefront_api.reader import RecommendationReader
from services.storefront_api.routes import feedback, queries, sessions, trending
from services.storefront_api.trending import Trending

log = logging.getLogger("interarec.storefront_api")


@dataclass(frozen=True)
class StorefrontSettings:
    host: str
    port: int
    bootstrap: str
    cors_origins: list[str]
    api_keys: ApiKeys
    token_secret: bytes
    token_ttl_s: int = 900
    rate_per_s: float = 50.0
    rate_burst: int = 100
    max_streams_per_tenant: int = 200
    heartbeat_s: float = 15.0
    history_size: int = 10
    rules: dict[str, tuple[business_rules.Rule, ...]] = field(default_factory=dict)
    solver: str = "threshold"
    query_llm: LlmSettings | None = None  # set: text/image queries ask the model first (model_queries.py)

    @classmethod
    def from_env(cls) -> "StorefrontSettings":
        secret = config.env_str("INTERAREC_STOREFRONT_TOKEN_SECRET", "")
        if not secret:
            if not tenants.demo_mode():
                raise config.ConfigError(
                    "INTERAREC_STOREFRONT_TOKEN_SECRET is not set: give it 32 or more random characters (the same "
                    "on every replica), or set INTERAREC_DEMO_MODE=1 to sign with a per-process secret")
            secret_bytes = os.urandom(32)
        elif len(secret) < 32:
            raise config.ConfigError("INTERAREC_STOREFRONT_TOKEN_SECRET must be at least 32 characters")
        else:
            secret_bytes = secret.encode()
        origins = [o.strip().rstrip("/") for o in config.env_str("INTERAREC_STOREFRONT_CORS_ORIGINS", "").split(",")
                   if o.strip()]
        if "*" in origins:
            raise config.ConfigError("INTERAREC_STOREFRONT_CORS_ORIGINS must list the shops' origins, not '*'")
        query_backend = config.env_choice("INTERAREC_STOREFRONT_QUERY_BACKEND", "rules", BACKENDS)
        return cls(
            host=config.env_str("INTERAREC_STOREFRONT_HOST", "127.0.0.1"),
            port=config.env_int("INTERAREC_STOREFRONT_PORT", 8600, minimum=1, maximum=65535),
            bootstrap=config.kafka_bootstrap(),
            cors_origins=origins,
            api_keys=ApiKeys.from_env(),
            token_secret=secret_bytes,
            token_ttl_s=config.env_int("INTERAREC_STOREFRONT_TOKEN_TTL_S", 900, minimum=30, maximum=86_400),
            rate_per_s=config.env_float("INTERAREC_STOREFRONT_RATE_PER_S", 50.0, minimum=0.1, maximum=100_000),
            rate_burst=config.env_int("INTERAREC_STOREFRONT_RATE_BURST", 100, minimum=1, maximum=1_000_000),
            max_streams_per_tenant=config.env_int("INTERAREC_STOREFRONT_MAX_STREAMS", 200, minimum=1,
                                                  maximum=1_000_000),
            heartbeat_s=config.env_float("INTERAREC_STOREFRONT_HEARTBEAT_S", 15.0, minimum=0.5, maximum=300),
            history_size=config.env_int("INTERAREC_STOREFRONT_HISTORY", 10, minimum=1, maximum=100),
            rules=business_rules.load_from_env(),
            solver=config.env_choice("INTERAREC_STOREFRONT_SOLVER", "threshold", ("threshold", "pyomo")),
            query_llm=LlmSettings.from_env() if query_backend == "llm" else None,
        )


def create_app(settings: StorefrontSettings, catalog: Catalog | None = None) -> FastAPI:
    catalog = catalog or Catalog.load(config.catalog_path())
    business_rules.check_against_catalog(settings.rules, catalog)
    ctx = Context(
        settings=settings, catalog=catalog, store=LatestRecommendations(history_size=settings.history_size),
        trending=Trending(), tokens=SessionTokens(settings.token_secret, settings.token_ttl_s),
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
        slots=StreamSlots(settings.max_streams_per_tenant),
        producer=AsyncProducer(settings.bootstrap, client_id="interarec-storefront-api"),
        solver_pool=ThreadPoolExecutor(max_workers=1, thread_name_prefix="storefront-solve"),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reader = ctx.extras["reader"] = RecommendationReader(settings.bootstrap, ctx.store,
                                                             asyncio.get_running_loop(), trending=ctx.trending,
                                                             catalog=catalog)
        reader.start()
        ctx.producer.start()
        if settings.query_llm is not None:  # created on the serving loop (the client's semaphore binds to it)
            ctx.models = ModelQueries(settings.query_llm, catalog)
            ctx.extras["warm_up"] = asyncio.create_task(ctx.models.warm_up())
        yield
        if ctx.models is not None:
            ctx.extras.pop("warm_up").cancel()
            await ctx.models.close()
            ctx.models = None
        await run_in_threadpool(reader.stop)
        await run_in_threadpool(ctx.producer.close)
        ctx.solver_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="InteraRec storefront API", version="1", lifespan=lifespan,
                  description="Recommendations for shops. Server side: send `X-API-Key`. A shopper's browser: mint "
                              "a session token server side (`POST /v1/sessions/{session_id}/token`) and pass it as "
                              "`?token=` (SSE) or `Authorization: Bearer` (feedback). Every error answers "
                              '`{"error": {"code", "message", "details"}}`.')
    app.state.ctx = ctx
    install_error_handlers(app)
    instrument(app, "storefront-api")
    if settings.cors_origins:
        # Only what a browser needs: a token, never an API key, so X-API-Key is not an allowed header.
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"], max_age=600)
    for router in (sessions.router, feedback.router, queries.router, trending.router):
        app.include_router(router)
    app.include_router(ops_router(lambda: _readiness(ctx)))
    return app


def _readiness(ctx: Context) -> tuple[bool, dict]:
    reader = ctx.extras.get("reader")
    if reader is not None and reader.caught_up.is_set():
        return True, {"status": "ready", "sessions": len(ctx.store)}
    return False, {"status": "loading recommendations"}
