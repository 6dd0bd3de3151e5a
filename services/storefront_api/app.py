"""Storefront API for shops: per-tenant recommendations (latest, history, SSE), feedback, similar products,
text and image queries, trending. Authentication: a tenant's API key (server to server) or a short-lived
session token (a shopper's browser, one session only). Every lookup is scoped by tenant, and a session of
another tenant answers exactly like a missing one."""


import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

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
from services.common.session_tokens import SessionTokens, parse_token_secret
from services.common.settings import Env, computed, setting
from services.common.settings import from_env as settings_from_env
from services.common.tenants import ApiKeys
from services.core import business_rules
from services.core.assortment.recommendation import image_base_setting
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import tesseract_setting
from services.core.reading.profile import ShopProfile, profile_setting
from services.storefront_api.access import StreamSlots
from services.storefront_api.dependencies import Context
from services.storefront_api.latest import LatestRecommendations
from services.storefront_api.model_queries import BACKENDS, ModelQueries
from services.storefront_api.reader import RecommendationReader
from services.storefront_api.routes import feedback, queries, sessions, trending
from services.storefront_api.trending import Trending

log = logging.getLogger("interarec.storefront_api")


def _token_secret(raw: str) -> bytes:
    secret = parse_token_secret(raw)  # the gateway checks tokens with the same rule
    if secret is None:
        if not tenants.demo_mode():
            raise config.ConfigError(
                "INTERAREC_STOREFRONT_TOKEN_SECRET is not set: give it 32 or more random characters (the same "
                "on every replica), or set INTERAREC_DEMO_MODE=1 to sign with a per-process secret")
        return os.urandom(32)
    return secret


def _origins(raw: str) -> list[str]:
    origins = [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]
    if "*" in origins:
        raise config.ConfigError("INTERAREC_STOREFRONT_CORS_ORIGINS must list the shops' origins, not '*'")
    return origins


def _query_llm() -> LlmSettings | None:
    backend = config.env_choice("INTERAREC_STOREFRONT_QUERY_BACKEND", "rules", BACKENDS)
    return LlmSettings.from_env() if backend == "llm" else None


@dataclass(frozen=True)
class StorefrontSettings:
    """The storefront API's settings, each variable declared once (services/common/settings.py)."""

    host: str = setting("INTERAREC_STOREFRONT_HOST", "127.0.0.1", "the storefront API's bind address")
    port: int = setting("INTERAREC_STOREFRONT_PORT", 8600, "the storefront API's port", minimum=1, maximum=65535)
    bootstrap: str = setting("INTERAREC_KAFKA_BOOTSTRAP_SERVERS", config.kafka_bootstrap, "broker list",
                             default_doc="`$KAFKA_BOOTSTRAP_SERVERS` or `localhost:9092`")
    cors_origins: list[str] = setting("INTERAREC_STOREFRONT_CORS_ORIGINS", list,
                                      "comma-separated shop origins browsers may call from (never `*`)",
                                      default_doc="none", parse=_origins)
    api_keys: ApiKeys = computed(
        ApiKeys.from_env,
        Env("INTERAREC_API_KEYS", "comma-separated `tenant:sha256$<hex>` entries (`python -m "
            "services.common.tenants new <tenant>` makes one)", default_doc="none (demo mode: the demo key)"),
        Env("INTERAREC_API_KEYS_FILE", "a file of such entries, one per line (`#` comments)", default_doc="none"),
        Env("INTERAREC_DEMO_MODE", "`1`: accept the demo key `demo-key` (tenant `demo`) and sign session tokens "
            "with a per-process secret (every service: storefront, gateway, demo shop)", choices=("0", "1"),
            default_doc="`0`"))
    token_secret: bytes = setting("INTERAREC_STOREFRONT_TOKEN_SECRET", b"",
                                  "HMAC secret of shoppers' session tokens: 32+ characters, the same on every "
                                  "storefront replica and the gateway (which checks the tokens the storefront mints)",
                                  default_doc="required (demo mode: a per-process secret)", parse=_token_secret)
    token_ttl_s: int = setting("INTERAREC_STOREFRONT_TOKEN_TTL_S", 900, "a session token's lifetime",
                               minimum=30, maximum=86_400)
    rate_per_s: float = setting("INTERAREC_STOREFRONT_RATE_PER_S", 50.0, "requests per second per tenant",
                                minimum=0.1, maximum=100_000)
    rate_burst: int = setting("INTERAREC_STOREFRONT_RATE_BURST", 100, "burst above the rate per tenant",
                              minimum=1, maximum=1_000_000)
    max_streams_per_tenant: int = setting("INTERAREC_STOREFRONT_MAX_STREAMS", 200,
                                          "open SSE streams per tenant and replica", minimum=1, maximum=1_000_000)
    heartbeat_s: float = setting("INTERAREC_STOREFRONT_HEARTBEAT_S", 15.0, "SSE keep-alive comment interval",
                                 minimum=0.5, maximum=300)
    history_size: int = setting("INTERAREC_STOREFRONT_HISTORY", 10, "recommendations kept per session for "
                                "/history", minimum=1, maximum=100)
    rules: dict[str, tuple[business_rules.Rule, ...]] = business_rules.rules_setting()  # the optimizer's too
    solver: str = setting("INTERAREC_STOREFRONT_SOLVER", "threshold", "solver for text and image queries",
                          choices=("threshold", "pyomo"))
    image_base_url: str = image_base_setting()  # the optimizer's too: both build items
    shop_profile: ShopProfile = profile_setting()  # the summarizer's too: image queries read like frames
    tesseract: str = tesseract_setting()
    # set: text/image queries ask the model first (model_queries.py)
    query_llm: LlmSettings | None = computed(
        _query_llm, Env("INTERAREC_STOREFRONT_QUERY_BACKEND", "text and image queries: `rules`, or `llm` (the "
                        "model on INTERAREC_LLM_*, the rules as fallback)", choices=BACKENDS, default_doc="`rules`"))

    @classmethod
    def from_env(cls) -> "StorefrontSettings":
        return settings_from_env(cls)


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
        grounder=Grounder(catalog, profile=settings.shop_profile),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reader = ctx.extras["reader"] = RecommendationReader(settings.bootstrap, ctx.store,
                                                             asyncio.get_running_loop(), trending=ctx.trending,
                                                             catalog=catalog)
        reader.start()
        ctx.producer.start()
        if settings.query_llm is not None:  # created on the serving loop (the client's semaphore binds to it)
            ctx.models = ModelQueries(settings.query_llm, catalog, settings.shop_profile)
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
