"""Storefront API for shops: per-tenant recommendations (latest, history, SSE), feedback, similar products,
text and image queries, trending. Authentication: a tenant's API key (server to server) or a short-lived
session token (a shopper's browser, one session only). Every lookup is scoped by tenant, and a session of
another tenant answers exactly like a missing one."""


import asyncio
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from kafka.errors import KafkaError
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool

from interarec.v1 import feedback_pb2
from services.common import config, metrics, tenants
from services.common.catalog import Catalog
from services.common.kafka_producer import AsyncProducer, BrokerUnavailable
from services.common.keys import session_key
from services.common.llm import LlmError, LlmSettings
from services.common.ratelimit import RateLimiter, retry_after_header
from services.common.session_tokens import SessionTokens, TokenError
from services.common.tenants import ApiKeys
from services.common.topics import FEEDBACK
from services.core import business_rules
from services.core.reading.imaging import ImageDecodeError, decode_image
from services.storefront_api import feedback as feedback_rules
from services.storefront_api import models
from services.storefront_api.access import StreamSlots
from services.storefront_api.assortments import InvalidRequest, solve
from services.storefront_api.image_query import image_request
from services.storefront_api.latest import LatestRecommendations, to_json
from services.storefront_api.model_queries import BACKENDS, ModelQueries, embedded_fallback
from services.storefront_api.queries import similar_request, text_request
from services.storefront_api.reader import RecommendationReader
from services.storefront_api.trending import WINDOWS_S, Trending

log = logging.getLogger("interarec.storefront_api")
SESSION_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_IMAGE_BYTES = 4 * 1024 * 1024
REQUESTS = Counter("interarec_storefront_api_requests_total", "Authenticated requests, by endpoint and outcome",
                   ["endpoint", "outcome"])
IMAGE_BODY = {"requestBody": {"required": True, "content": {
    m: {"schema": {"type": "string", "format": "binary"}} for m in ("image/png", "image/jpeg", "image/webp")}}}
STREAM_RETRY_MS = 3000  # SSE `retry:` hint for the browser's reconnect


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


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details or []


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   details: list[str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _provenance(request) -> dict:
    """Which backend answered a query, and why the model's answer was not used when it was not."""
    return {"backend": request.backend, "model": request.model or None,
            "fallback_reason": request.fallback_reason or None}


def _errors(*codes: int) -> dict:
    text = {400: "Bad request", 401: "Missing, unknown or expired credentials", 403: "Token not valid here",
            404: "Not found (also: another tenant's session)", 413: "Body too large", 415: "Not an image",
            422: "Invalid input", 429: "Rate or stream limit reached; see Retry-After",
            503: "Kafka unavailable: nothing was written"}
    out = {c: {"model": models.ErrorBody, "description": text[c]} for c in codes}
    if 429 in codes:
        out[429]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return out


api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the tenant's API key (server side)")
token_query = APIKeyQuery(name="token", auto_error=False, description="session token (browser; SSE)")
bearer = HTTPBearer(auto_error=False, description="session token (browser)")


@dataclass(frozen=True)
class Caller:
    tenant: str
    session_id: str | None  # set for a session token: the only session it may touch


def create_app(settings: StorefrontSettings, catalog: Catalog | None = None) -> FastAPI:
    catalog = catalog or Catalog.load(config.catalog_path())
    business_rules.check_against_catalog(settings.rules, catalog)
    store = LatestRecommendations(history_size=settings.history_size)
    trending = Trending()
    tokens = SessionTokens(settings.token_secret, settings.token_ttl_s)
    limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
    slots = StreamSlots(settings.max_streams_per_tenant)
    # Direct questions solve in-process; one thread bounds their CPU and keeps the event loop free.
    solver_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storefront-solve")
    producer = AsyncProducer(settings.bootstrap, client_id="interarec-storefront-api")
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reader = state["reader"] = RecommendationReader(settings.bootstrap, store, asyncio.get_running_loop(),
                                                        trending=trending, catalog=catalog)
        reader.start()
        producer.start()
        if settings.query_llm is not None:  # created on the serving loop (the client's semaphore binds to it)
            state["models"] = ModelQueries(settings.query_llm, catalog)
            state["warm_up"] = asyncio.create_task(state["models"].warm_up())
        yield
        if "models" in state:
            state.pop("warm_up").cancel()
            await state.pop("models").close()
        await run_in_threadpool(reader.stop)
        await run_in_threadpool(producer.close)
        solver_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="InteraRec storefront API", version="1", lifespan=lifespan,
                  description="Recommendations for shops. Server side: send `X-API-Key`. A shopper's browser: mint "
                              "a session token server side (`POST /v1/sessions/{session_id}/token`) and pass it as "
                              "`?token=` (SSE) or `Authorization: Bearer` (feedback).")
    if settings.cors_origins:
        # Only what a browser needs: a token, never an API key, so X-API-Key is not an allowed header.
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"], max_age=600)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, exc.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()][:20]
        return error_response(422, "invalid_request", "the request does not match the API schema", details=details)

    def _rate_limit(tenant: str, endpoint: str) -> None:
        wait = limiter.acquire(tenant, time.monotonic())
        if wait > 0:
            REQUESTS.labels(endpoint=endpoint, outcome="rate_limited").inc()
            raise ApiError(429, "rate_limited", f"rate limit of {settings.rate_per_s:g} requests/s reached",
                           headers={"Retry-After": retry_after_header(wait)})

    def tenant_caller(endpoint: str):
        """Dependency: the API key's tenant (server-to-server endpoints)."""
        async def dep(request: Request, key: Annotated[str | None, Depends(api_key_header)]) -> Caller:
            tenant = settings.api_keys.tenant_for(key)
            if tenant is None:
                REQUESTS.labels(endpoint=endpoint, outcome="unauthorized").inc()
                raise ApiError(401, "unauthorized", "missing or unknown X-API-Key")
            _rate_limit(tenant, endpoint)
            return Caller(tenant, None)
        return dep

    def session_caller(endpoint: str):
        """Dependency: an API key, or a session token for exactly the session in the path."""
        async def dep(request: Request, key: Annotated[str | None, Depends(api_key_header)],
                      token_q: Annotated[str | None, Depends(token_query)],
                      auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
            if key:
                tenant = settings.api_keys.tenant_for(key)
                if tenant is None:
                    REQUESTS.labels(endpoint=endpoint, outcome="unauthorized").inc()
                    raise ApiError(401, "unauthorized", "unknown X-API-Key")
                _rate_limit(tenant, endpoint)
                return Caller(tenant, None)
            token = auth.credentials if auth is not None else token_q
            if not token:
                REQUESTS.labels(endpoint=endpoint, outcome="unauthorized").inc()
                raise ApiError(401, "unauthorized", "send X-API-Key, or a session token as ?token= or Bearer")
            try:
                tenant, session_id = tokens.verify(token, time.time())
            except TokenError as exc:
                REQUESTS.labels(endpoint=endpoint, outcome="unauthorized").inc()
                raise ApiError(401, "unauthorized", str(exc)) from None
            if session_id != request.path_params.get("session_id"):
                REQUESTS.labels(endpoint=endpoint, outcome="forbidden").inc()
                raise ApiError(403, "forbidden", "this session token is for another session")
            _rate_limit(tenant, endpoint)
            return Caller(tenant, session_id)
        return dep


    def not_found(session_id: str) -> ApiError:
        return ApiError(404, "not_found", f"no recommendation for session {session_id!r}")

    async def run_solve(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(solver_pool, fn, *args)

    # ------------------------------------------------------------------ sessions

    @app.post("/v1/sessions/{session_id}/token", status_code=201, response_model=models.TokenOut,
              responses=_errors(401, 422, 429), tags=["sessions"],
              summary="Mint a short-lived token for one session (server to server)")
    async def mint_token(session_id: Annotated[str, _session_path()],
                         caller: Annotated[Caller, Depends(tenant_caller("token"))]) -> JSONResponse:
        token, expires = tokens.mint(caller.tenant, session_id, time.time())
        REQUESTS.labels(endpoint="token", outcome="ok").inc()
        return JSONResponse({"token": token, "session_id": session_id, "expires_at": expires}, status_code=201)

    @app.get("/v1/sessions/{session_id}/recommendations", response_model=models.RecommendationOut,
             responses=_errors(401, 403, 404, 422, 429), tags=["sessions"],
             summary="The session's latest recommendation")
    async def latest(session_id: Annotated[str, _session_path()],
                     caller: Annotated[Caller, Depends(session_caller("recommendations"))]) -> JSONResponse:
        rec = store.get(caller.tenant, session_id)
        if rec is None:
            raise not_found(session_id)
        REQUESTS.labels(endpoint="recommendations", outcome="ok").inc()
        return JSONResponse(to_json(rec))

    @app.get("/v1/sessions/{session_id}/recommendations/history", response_model=models.HistoryOut,
             responses=_errors(401, 403, 404, 422, 429), tags=["sessions"],
             summary="The session's recent recommendation windows, oldest first")
    async def history(session_id: Annotated[str, _session_path()],
                      caller: Annotated[Caller, Depends(session_caller("history"))]) -> JSONResponse:
        windows = store.history(caller.tenant, session_id)
        if not windows:
            raise not_found(session_id)
        REQUESTS.labels(endpoint="history", outcome="ok").inc()
        return JSONResponse({"session_id": session_id, "windows": [to_json(r) for r in windows]})

    @app.get("/v1/sessions/{session_id}/stream", tags=["sessions"],
             responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                              "description": "`event: recommendation` (id = window_seq, data = the JSON of "
                                             "GET .../recommendations); `: heartbeat` comments"},
                        **_errors(401, 403, 422, 429)},
             summary="Live recommendations (SSE); resumes after Last-Event-ID")
    async def stream(request: Request, session_id: Annotated[str, _session_path()],
                     caller: Annotated[Caller, Depends(session_caller("stream"))],
                     last_event_id: Annotated[int | None, Query(ge=0, le=2**63 - 1,
                                                                description="instead of the Last-Event-ID header")
                                              ] = None) -> StreamingResponse:
        resume_from = last_event_id
        header = request.headers.get("last-event-id", "").strip()
        if header:
            if not header.isdigit() or len(header) > 19:
                raise ApiError(422, "invalid_request", "Last-Event-ID must be a window_seq (an integer)")
            resume_from = int(header)
        if not slots.try_open(caller.tenant):
            REQUESTS.labels(endpoint="stream", outcome="too_many_streams").inc()
            raise ApiError(429, "too_many_streams",
                           f"{settings.max_streams_per_tenant} streams are open for this tenant",
                           headers={"Retry-After": retry_after_header(settings.heartbeat_s)})
        queue = store.subscribe(caller.tenant, session_id)
        REQUESTS.labels(endpoint="stream", outcome="ok").inc()

        async def events():
            try:
                yield f"retry: {STREAM_RETRY_MS}\n\n"
                if resume_from is None:  # a fresh client: the current state, then newer ones
                    current = store.get(caller.tenant, session_id)
                    backlog = [current] if current is not None else []
                else:  # a reconnecting client: every kept window it missed, in order
                    backlog = store.after(caller.tenant, session_id, resume_from)
                sent_seq = resume_from if resume_from is not None else -1
                for rec in backlog:
                    sent_seq = rec.window_seq
                    yield _sse(rec)
                while not await request.is_disconnected():
                    try:
                        rec = await asyncio.wait_for(queue.get(), settings.heartbeat_s)
                    except TimeoutError:
                        yield ": heartbeat\n\n"
                        continue
                    if rec.window_seq > sent_seq:
                        sent_seq = rec.window_seq
                        yield _sse(rec)
            finally:
                store.unsubscribe(caller.tenant, session_id, queue)
                slots.close(caller.tenant)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------ feedback

    async def record_feedback(caller: Caller, session_id: str, events: list[models.FeedbackIn]) -> JSONResponse:
        windows = store.history(caller.tenant, session_id)
        if not windows:
            raise not_found(session_id)
        problems = [f"events[{i}]: {p}" for i, e in enumerate(events)
                    if (p := feedback_rules.problem(catalog, windows, e.product_id, e.event, e.window_seq))]
        if problems:
            REQUESTS.labels(endpoint="feedback", outcome="invalid").inc()
            raise ApiError(422, "invalid_feedback", problems[0] if len(problems) == 1 else
                           f"{len(problems)} of {len(events)} events are invalid; none was recorded", details=problems)
        now = int(time.time() * 1000)
        key = session_key(caller.tenant, session_id).encode()
        messages = [feedback_pb2.Feedback(session_id=session_id, tenant=caller.tenant, window_seq=e.window_seq,
                                          product_id=e.product_id, event=feedback_rules.EVENTS[e.event],
                                          event_unix_ms=now).SerializeToString() for e in events]
        try:  # all or nothing from the caller's view: 202 only once every event is acknowledged
            await asyncio.gather(*(producer.send(FEEDBACK.name, key, m) for m in messages))
        except (BrokerUnavailable, TimeoutError, KafkaError) as exc:
            REQUESTS.labels(endpoint="feedback", outcome="broker_unavailable").inc()
            raise ApiError(503, "broker_unavailable", f"Kafka did not acknowledge the feedback: {exc!r}") from None
        REQUESTS.labels(endpoint="feedback", outcome="ok").inc()
        return JSONResponse({"status": "accepted", "accepted": len(messages)}, status_code=202)

    @app.post("/v1/sessions/{session_id}/feedback", status_code=202, response_model=models.FeedbackAccepted,
              responses=_errors(401, 403, 404, 422, 429, 503), tags=["feedback"],
              summary="Record one shopper event (impression, click, add to cart, purchase)")
    async def feedback(body: models.FeedbackIn, session_id: Annotated[str, _session_path()],
                       caller: Annotated[Caller, Depends(session_caller("feedback"))]) -> JSONResponse:
        return await record_feedback(caller, session_id, [body])

    @app.post("/v1/sessions/{session_id}/feedback/batch", status_code=202, response_model=models.FeedbackAccepted,
              responses=_errors(401, 403, 404, 422, 429, 503), tags=["feedback"],
              summary="Record up to 100 events at once; one invalid event rejects the batch")
    async def feedback_batch(body: models.FeedbackBatchIn, session_id: Annotated[str, _session_path()],
                             caller: Annotated[Caller, Depends(session_caller("feedback"))]) -> JSONResponse:
        return await record_feedback(caller, session_id, body.events)

    # ------------------------------------------------------------------ catalog-level questions

    async def answer(fn_request, caller: Caller, endpoint: str) -> dict:
        def work():
            request, extra = fn_request()
            return solve(catalog, request, settings.rules.get(caller.tenant, ()), settings.solver), extra
        try:
            rec, extra = await run_solve(work)
        except InvalidRequest as exc:
            REQUESTS.labels(endpoint=endpoint, outcome="unsatisfiable").inc()
            raise ApiError(422, "unsatisfiable", str(exc)) from None
        REQUESTS.labels(endpoint=endpoint, outcome="ok").inc()
        return {**to_json(rec), **extra}

    @app.get("/v1/products/{product_id}/similar", response_model=models.SimilarOut,
             responses=_errors(401, 404, 422, 429), tags=["recommend"],
             summary="Item-to-item: products similar in type, brand, colour and price, ranked by the MNL optimizer")
    async def similar(product_id: Annotated[str, Path(pattern=PRODUCT_ID_PATTERN, examples=["P00042"])],
                      caller: Annotated[Caller, Depends(tenant_caller("similar"))],
                      k: Annotated[int, Query(ge=1, le=50)] = 8) -> JSONResponse:
        product = catalog.by_id.get(product_id)
        if product is None:
            raise ApiError(404, "not_found", f"no product {product_id!r}")
        body = await answer(lambda: (similar_request(catalog, product, k, caller.tenant), {"product_id": product_id}),
                            caller, "similar")
        return JSONResponse(body)

    @app.post("/v1/query/text", response_model=models.QueryOut, responses=_errors(401, 422, 429), tags=["recommend"],
              summary="A typed request, decomposed into constraints by the rules (or the model: "
                      "INTERAREC_STOREFRONT_QUERY_BACKEND=llm) and solved by the MNL optimizer")
    async def query_text(body: models.TextQueryIn,
                         caller: Annotated[Caller, Depends(tenant_caller("query_text"))]) -> JSONResponse:
        model_answer = await state["models"].text(body.query, body.k, caller.tenant) if "models" in state else None

        def build():
            request, ignored = model_answer or text_request(catalog, body.query, body.k, caller.tenant)
            return request, {"query": body.query, "ignored_words": ignored, **_provenance(request)}
        return JSONResponse(await answer(build, caller, "query_text"))

    @app.post("/v1/query/image", response_model=models.ImageQueryOut, responses=_errors(400, 401, 413, 422, 429),
              tags=["recommend"], openapi_extra=IMAGE_BODY,
              summary="A product photo or screenshot, matched to the catalog (OCR and colour, or the vLLM model when "
                      "configured), then recommended from")
    async def query_image(request: Request, caller: Annotated[Caller, Depends(tenant_caller("query_image"))],
                          k: Annotated[int, Query(ge=1, le=50)] = 8) -> JSONResponse:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_IMAGE_BYTES:
                raise ApiError(413, "body_too_large", f"image over {MAX_IMAGE_BYTES} bytes")
        try:
            image = await run_in_threadpool(decode_image, bytes(data))
        except ImageDecodeError as exc:
            raise ApiError(400, "bad_image", str(exc)) from None
        try:
            if "models" not in state:
                match = await run_in_threadpool(image_request, catalog, bytes(data), k, caller.tenant)
            else:
                match = await state["models"].image(image, k, caller.tenant)
        except LlmError as exc:
            match = await run_in_threadpool(embedded_fallback, catalog, bytes(data), k, caller.tenant, exc)
        extra = {"matched_product_id": match.product_id, "detected_colour": match.colour,
                 **_provenance(match.request)}
        return JSONResponse(await answer(lambda: (match.request, extra), caller, "query_image"))

    @app.get("/v1/trending", response_model=models.TrendingOut, responses=_errors(401, 422, 429), tags=["recommend"],
             summary="Products and categories trending across the tenant's sessions (views and clicks)")
    async def trending_now(caller: Annotated[Caller, Depends(tenant_caller("trending"))],
                           window: Annotated[str, Query(pattern="^(" + "|".join(WINDOWS_S) + ")$")] = "1h",
                           limit: Annotated[int, Query(ge=1, le=100)] = 10) -> JSONResponse:
        products, categories = trending.top(caller.tenant, WINDOWS_S[window], int(time.time() * 1000), limit)
        for row in products:
            row["title"] = catalog.by_id[row["product_id"]].title
        REQUESTS.labels(endpoint="trending", outcome="ok").inc()
        return JSONResponse({"window": window, "products": products, "categories": categories})

    # ------------------------------------------------------------------ operations

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "still loading recommendations"}})
    async def readyz() -> Response:
        reader = state.get("reader")
        if reader is not None and reader.caught_up.is_set():
            return JSONResponse({"status": "ready", "sessions": len(store)})
        return JSONResponse({"status": "loading recommendations"}, status_code=503)

    @app.get("/metrics", tags=["operations"], response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def _session_path():
    return Path(pattern=SESSION_ID_PATTERN, max_length=64, examples=["abc123"],
                description="the shop's visitor session id")


def _sse(rec) -> str:
    return f"event: recommendation\nid: {rec.window_seq}\ndata: {json.dumps(to_json(rec))}\n\n"
