"""The demo shop: a browsable storefront over the catalog with a live "Recommended for you" panel.

Pages are server-rendered (Jinja2); the panel is filled in the browser from the storefront API's SSE
stream (static/panel.js). Like a real shop's backend, the shop holds the tenant's API key server side: it
mints a short-lived session token for the visitor's browser (`/panel-token`), and asks the storefront API
for "similar products" (product pages) and for picks matching a typed search (search page). Without a
key, or with the storefront down, the shop still works; those parts are just left out.

Two layouts over the same routes (INTERAREC_SHOP_LAYOUT): `classic` (templates/classic: plain, prints
"SKU: <id>") and `boutique` (templates/boutique: serif headings on cream, no product id anywhere on screen,
sale price beside list price, "Visit the X store", colour swatches, stars with a count, reviews, a
comparison page and promotional banners naming products), plus any number of seeded `theme-<n>` looks
(themes.py, templates/themed) to test the reader on shops we did not design. All mark what the scripted
shoppers click with hidden `data-role` attributes, so one set of selectors browses any of them.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import Counter
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.catalog import Catalog
from services.common.http_errors import error_response, http_error_handler, install_error_handlers
from services.common.http_metrics import instrument
from services.common.http_ops import ops_router
from services.demo_shop import capture, merchandising, themes
from services.demo_shop.queries import (
    SORTS,
    CategoryFilters,
    SearchIndex,
    category_facets,
    featured,
    filter_category,
    parse_price,
)
from services.demo_shop.session import COOKIE, COOKIE_MAX_AGE_S, SessionCookies

HERE = Path(__file__).parent
PAGE_SIZE = 36
PROMOTION = "Free shipping on orders over $50"
LAYOUTS = ("classic", "boutique")
SHOP_NAMES = {"classic": "InteraShop", "boutique": "Maison Verde"}
MAX_COMPARE = 4
log = logging.getLogger("interarec.demo_shop")

# Module level: prometheus-client refuses to register the same name twice (tests build several apps).
PAGE_VIEWS = Counter("interarec_demo_shop_page_views_total", "Pages served by the demo shop", ["page"])


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _plain_price(value: float | None) -> str:
    """A price for a form field: '50' rather than '50.0'."""
    if value is None:
        return ""
    return f"{value:.2f}".rstrip("0").rstrip(".")


STOREFRONT_TIMEOUT_S = 2.0  # a slow storefront must not hold up a page: the extra panels are left out
SIMILAR_K = 4


def create_app(catalog: Catalog, storefront_url: str, *, api_key: str | None = None,
               storefront_backend_url: str | None = None, layout: str = "classic",
               capture_gateway_url: str | None = None, session_secret: bytes | None = None) -> FastAPI:
    """storefront_url: where browsers reach the storefront API; storefront_backend_url: where this server
    does (default: the same); api_key: the shop tenant's key, never sent to a browser; capture_gateway_url:
    where browsers reach the gateway (set: every page carries the capture script, capture.py); session_secret:
    signs the visitor's session cookie (default: random per process, so visitors get new sessions on a
    restart)."""
    number = themes.theme_number(layout)
    if layout not in LAYOUTS and number is None:
        raise ValueError(f"unknown shop layout {layout!r}; expected one of {', '.join(LAYOUTS)} or theme-<n>")
    backend = (storefront_backend_url or storefront_url).rstrip("/")
    sessions = SessionCookies(session_secret or os.urandom(32))
    http = httpx.AsyncClient(base_url=backend, timeout=STOREFRONT_TIMEOUT_S,
                             headers={"X-API-Key": api_key} if api_key else {})

    async def storefront(method: str, path: str, **kwargs) -> dict | None:
        """A storefront API answer, or None (no key, unreachable, or an error status): pages degrade."""
        if not api_key:
            return None
        try:
            resp = await http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("storefront API %s %s failed: %r", method, path, exc)
            return None
        if resp.status_code >= 300:
            log.warning("storefront API %s %s answered %d", method, path, resp.status_code)
            return None
        return resp.json()

    app = FastAPI(title="InteraRec demo shop", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_closing(http))
    install_error_handlers(app)  # the envelope for everything but a missing page (an HTML page, below)
    instrument(app, "demo-shop")
    # The layout's own templates first; shared partials (_picks.html) from the templates root.
    templates = Jinja2Templates(directory=[HERE / "templates" / ("themed" if number else layout),
                                           HERE / "templates"])
    templates.env.filters["money"] = _money
    if number:
        templates.env.globals.update(themes.template_globals(themes.theme(number)))
    shop_name = themes.theme(number).shop_name if number else SHOP_NAMES[layout]
    templates.env.globals.update(
        shop_name=shop_name, promotion=PROMOTION, storefront_url=storefront_url.rstrip("/"),
        categories=catalog.categories, layout=layout, m=merchandising, catalog=catalog,
    )
    index = SearchIndex(catalog)
    capture.install(app, templates, capture_gateway_url)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def session_cookie(request: Request, call_next):
        sid, set_cookie = sessions.resolve(request.cookies.get(COOKIE))  # never from the URL
        request.state.session_id = sid
        response = await call_next(request)
        if set_cookie:
            response.set_cookie(COOKIE, sessions.sign(sid), max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="lax",
                                path="/")
        return response

    def render(request: Request, name: str, kind: str, status_code: int = 200, **context) -> HTMLResponse:
        PAGE_VIEWS.labels(kind).inc()
        return templates.TemplateResponse(request, name, {"session_id": request.state.session_id, **context},
                                          status_code=status_code)

    def category_name(raw: str) -> str:
        for name in catalog.categories:
            if name.lower() == raw.lower():
                return name
        raise HTTPException(404, f"No category called {raw!r}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not hasattr(request.state, "session_id"):  # raised outside the middleware (e.g. routing)
            request.state.session_id = sessions.resolve(request.cookies.get(COOKIE))[0]
        if exc.status_code == 404:
            return render(request, "not_found.html", "not_found", status_code=404, message=str(exc.detail))
        return await http_error_handler(request, exc)

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        covers = {c: next(p for p in catalog.products if p.category == c) for c in catalog.categories}
        return render(request, "home.html", "home", featured=featured(catalog, 8), covers=covers)

    @app.get("/search", response_class=HTMLResponse)
    async def search(request: Request, q: str = "", page: int = 1) -> HTMLResponse:
        results = index.search(q)
        page, pages, shown = _paginate(results, page)
        picks = None
        if q.strip() and page == 1:  # the typed query, understood by the storefront API's text query
            picks = await storefront("POST", "/v1/query/text", json={"query": q.strip()[:200], "k": SIMILAR_K})
        return render(request, "listing.html", "search", heading=f'Results for "{q}"' if q else "Search",
                      query=q, products=shown, total=len(results), page=page, pages=pages,
                      page_params={"q": q}, category=None, query_picks=picks)

    @app.get("/c/{category}", response_class=HTMLResponse)
    async def category(request: Request, category: str, brand: str | None = None, colour: str | None = None,
                       price_min: str | None = None, price_max: str | None = None, sort: str = "popular",
                       page: int = 1) -> HTMLResponse:
        name = category_name(category)
        brands, colours, (low, high) = category_facets(catalog, name)
        filters = CategoryFilters(
            brand=brand if brand in brands else None, colour=colour if colour in colours else None,
            price_min=parse_price(price_min), price_max=parse_price(price_max),
            sort=sort if sort in SORTS else "popular",
        )
        results = filter_category(catalog, name, filters)
        page, pages, shown = _paginate(results, page)
        params = {k: v for k, v in {"brand": filters.brand, "colour": filters.colour,
                                    "price_min": _plain_price(filters.price_min),
                                    "price_max": _plain_price(filters.price_max), "sort": filters.sort}.items() if v}
        return render(request, "listing.html", "category", heading=name, query="", category=name,
                      products=shown, total=len(results), page=page, pages=pages, page_params=params,
                      filters=filters, brands=brands, colours=colours, sorts=SORTS, price_range=(low, high),
                      price_min_value=_plain_price(filters.price_min),
                      price_max_value=_plain_price(filters.price_max))

    @app.get("/p/{product_id}", response_class=HTMLResponse)
    async def product(request: Request, product_id: str) -> HTMLResponse:
        p = catalog.by_id.get(product_id) or catalog.by_id.get(product_id.upper())
        if p is None:
            raise HTTPException(404, f"No product {product_id!r}")
        similar = await storefront("GET", f"/v1/products/{p.product_id}/similar", params={"k": SIMILAR_K})
        return render(request, "product.html", "product", product=p, similar=similar,
                      compare_with=merchandising.similar(p, catalog))

    @app.get("/panel-token")
    async def panel_token(request: Request) -> Response:
        """A session token for this visitor's browser: the panel's SSE stream and feedback use it."""
        minted = await storefront("POST", f"/v1/sessions/{request.state.session_id}/token")
        if minted is None:
            return error_response(503, "unavailable", "recommendations unavailable",
                                  headers={"Cache-Control": "no-store"})
        return JSONResponse({"token": minted["token"], "expires_at": minted["expires_at"]},
                            headers={"Cache-Control": "no-store"})

    @app.get("/compare", response_class=HTMLResponse)
    async def compare(request: Request, ids: str = "") -> HTMLResponse:
        """Side-by-side comparison of up to MAX_COMPARE products: /compare?ids=P1,P2,P3."""
        wanted = [i.strip().upper() for i in ids.split(",") if i.strip()][:MAX_COMPARE]
        products = [catalog.by_id[i] for i in wanted if i in catalog.by_id]
        if not products:
            raise HTTPException(404, "No products to compare")
        return render(request, "compare.html", "compare", products=products)

    @app.get("/images/{name}")
    async def image(name: str) -> FileResponse:
        images = catalog.images_dir
        # only plain file names inside images_dir: no traversal, no hidden files
        if images is None or "/" in name or "\\" in name or name.startswith("."):
            raise HTTPException(404, "No such image")
        path = images / name
        if not path.is_file():
            raise HTTPException(404, "No such image")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    products = {"products": len(catalog)}
    app.include_router(ops_router(lambda: (True, {"status": "ready", **products}), health=lambda: products))
    return app


def _closing(http: httpx.AsyncClient):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await http.aclose()
    return lifespan


def _paginate(items: list, page: int) -> tuple[int, int, list]:
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(1, page), pages)
    return page, pages, items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
