"""Trending products and categories across a tenant's sessions."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.http_limits import GuardedRoute
from services.storefront_api import models
from services.storefront_api.dependencies import REQUESTS, Caller, Ctx, errors, tenant_caller
from services.storefront_api.trending import WINDOWS_S

router = APIRouter(tags=["recommend"], route_class=GuardedRoute)


@router.get("/v1/trending", response_model=models.TrendingOut, responses=errors(401, 422, 429),
            summary="Products and categories trending across the tenant's sessions (views and clicks)")
async def trending_now(ctx: Ctx, caller: Annotated[Caller, Depends(tenant_caller("trending"))],
                       window: Annotated[str, Query(pattern="^(" + "|".join(WINDOWS_S) + ")$")] = "1h",
                       limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict:
    products, categories = ctx.trending.top(caller.tenant, WINDOWS_S[window], int(time.time() * 1000), limit)
    for row in products:
        row["title"] = ctx.catalog.by_id[row["product_id"]].title
    REQUESTS.labels(endpoint="trending", outcome="ok").inc()
    return {"window": window, "products": products, "categories": categories}
