"""Catalog-level questions, solved in-process by the MNL optimizer: similar products, a typed query and an
image query."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from services.common.http_errors import ApiError
from services.common.http_limits import LIMIT_KEY, GuardedRoute
from services.common.images import ImageDecodeError, decode_image
from services.common.llm import LlmError
from services.storefront_api import models
from services.storefront_api.assortments import InvalidRequest, solve
from services.storefront_api.dependencies import REQUESTS, Caller, Context, Ctx, errors, product_path, tenant_caller
from services.storefront_api.image_query import image_request
from services.storefront_api.latest import to_json
from services.storefront_api.model_queries import embedded_fallback
from services.storefront_api.queries import similar_request, text_request

MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_BODY = {LIMIT_KEY: MAX_IMAGE_BYTES, "requestBody": {"required": True, "content": {
    m: {"schema": {"type": "string", "format": "binary"}} for m in ("image/png", "image/jpeg", "image/webp")}}}

router = APIRouter(tags=["recommend"], route_class=GuardedRoute)


def _provenance(request) -> dict:
    """Which backend answered a query, and why the model's answer was not used when it was not."""
    return {"backend": request.backend, "model": request.model or None,
            "fallback_reason": request.fallback_reason or None}


async def answer(ctx: Context, fn_request, caller: Caller, endpoint: str) -> dict:
    def work():
        request, extra = fn_request()
        return solve(ctx.catalog, request, ctx.settings.rules.get(caller.tenant, ()), ctx.settings.solver,
                     image_base=ctx.settings.image_base_url), extra
    try:
        rec, extra = await asyncio.get_running_loop().run_in_executor(ctx.solver_pool, work)
    except InvalidRequest as exc:
        REQUESTS.labels(endpoint=endpoint, outcome="unsatisfiable").inc()
        raise ApiError(422, "unsatisfiable", str(exc)) from None
    REQUESTS.labels(endpoint=endpoint, outcome="ok").inc()
    return {**to_json(rec), **extra}


@router.get("/v1/products/{product_id}/similar", response_model=models.SimilarOut,
            responses=errors(401, 404, 422, 429),
            summary="Item-to-item: products similar in type, brand, colour and price, ranked by the MNL optimizer")
async def similar(product_id: Annotated[str, product_path()], ctx: Ctx,
                  caller: Annotated[Caller, Depends(tenant_caller("similar"))],
                  k: Annotated[int, Query(ge=1, le=50)] = 8) -> dict:
    product = ctx.catalog.by_id.get(product_id)
    if product is None:
        raise ApiError(404, "not_found", f"no product {product_id!r}")
    return await answer(ctx, lambda: (similar_request(ctx.catalog, product, k, caller.tenant),
                                      {"product_id": product_id}), caller, "similar")


@router.post("/v1/query/text", response_model=models.QueryOut, responses=errors(401, 413, 422, 429),
             summary="A typed request, decomposed into constraints by the rules (or the model: "
                     "INTERAREC_STOREFRONT_QUERY_BACKEND=llm) and solved by the MNL optimizer")
async def query_text(body: models.TextQueryIn, ctx: Ctx,
                     caller: Annotated[Caller, Depends(tenant_caller("query_text"))]) -> dict:
    model_answer = await ctx.models.text(body.query, body.k, caller.tenant) if ctx.models is not None else None

    def build():
        request, ignored = model_answer or text_request(ctx.catalog, body.query, body.k, caller.tenant)
        return request, {"query": body.query, "ignored_words": ignored, **_provenance(request)}
    return await answer(ctx, build, caller, "query_text")


@router.post("/v1/query/image", response_model=models.ImageQueryOut, responses=errors(400, 401, 413, 422, 429),
             openapi_extra=IMAGE_BODY,
             summary="A product photo or screenshot, matched to the catalog (OCR and colour, or the vLLM model when "
                     "configured), then recommended from")
async def query_image(request: Request, ctx: Ctx, caller: Annotated[Caller, Depends(tenant_caller("query_image"))],
                      k: Annotated[int, Query(ge=1, le=50)] = 8) -> dict:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_IMAGE_BYTES:
            raise ApiError(413, "body_too_large", f"image over {MAX_IMAGE_BYTES} bytes")
    try:
        image = await run_in_threadpool(decode_image, bytes(data))
    except ImageDecodeError as exc:  # a decompression bomb is 413, like at the gateway; anything else 400
        raise ApiError(exc.status, "bad_image" if exc.status == 400 else exc.code, str(exc)) from None
    try:
        if ctx.models is None:
            match = await run_in_threadpool(image_request, ctx.grounder, image, k, caller.tenant,
                                            ctx.settings.tesseract)
        else:
            match = await ctx.models.image(image, k, caller.tenant)
    except LlmError as exc:
        match = await run_in_threadpool(embedded_fallback, ctx.grounder, image, k, caller.tenant, exc,
                                        ctx.settings.tesseract)
    extra = {"matched_product_id": match.product_id, "detected_colour": match.colour, **_provenance(match.request)}
    return await answer(ctx, lambda: (match.request, extra), caller, "query_image")
