"""The Playwright shopper in real headless Chromium against the real demo shop, posting to a stand-in for
the gateway's HTTP endpoint (the Kafka side of the gateway is not involved here)."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

from infra.local.served import Served
from services.common.catalog import Catalog
from services.demo_shop.app import create_app
from services.demo_shop.session import COOKIE
from services.shoppers.shopper import chromium_path, run_shopper

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(chromium_path()).exists(), reason="needs Chromium (INTERAREC_CHROMIUM_PATH)"),
]

API_KEY = "test-key"
SESSION = "e2e-capture-1"


def _gateway_stand_in(frames: list[dict]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/sessions/{session_id}/frames")
    async def post_frame(session_id: str, request: Request):
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)
        frames.append({"session_id": session_id, "body": await request.body(), "received": time.monotonic(),
                       **{k: request.headers.get(k, "") for k in
                          ("content-type", "x-frame-seq", "x-capture-time", "x-page-url", "x-page-title")}})
        return JSONResponse({"status": "accepted"}, status_code=202)

    return app


def _recording(app, log: list[tuple[str, str]]):
    """ASGI wrapper noting (path, cookie header) of every HTTP request the shop serves."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            log.append((scope["path"], headers.get(b"cookie", b"").decode()))
        await app(scope, receive, send)

    return wrapped


def test_brand_shopper_streams_frames(demo_catalog) -> None:
    catalog = Catalog.load(demo_catalog(7, 1200))
    frames: list[dict] = []
    requests: list[tuple[str, str]] = []
    lines: list[str] = []
    # the panel points at a closed port: the storefront being down must not disturb the shop
    shop_app = _recording(create_app(catalog, storefront_url="http://127.0.0.1:9"), requests)
    with Served(shop_app, lifespan=False, ready_path=None) as shop, \
            Served(_gateway_stand_in(frames), lifespan=False, ready_path=None) as gateway:
        started = time.monotonic()
        result = asyncio.run(run_shopper(shop.url, gateway.url, API_KEY, SESSION, "brand", catalog, seed=7,
                                         fps=2.0, progress=lines.append))
        elapsed = time.monotonic() - started
    print(f"\n{len(frames)} frames in {elapsed:.1f} s; " + "; ".join(lines))

    # frames: about 2 per second of browsing, all accepted
    assert result.frames_failed == 0
    assert result.frames_sent == len(frames)
    # plus one frame as each product page renders
    assert 1.2 * elapsed <= len(frames) <= 2.0 * elapsed + 3 + len(result.opened_product_ids), (len(frames), elapsed)
    seqs = [int(f["x-frame-seq"]) for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] == 1
    times = [int(f["x-capture-time"]) for f in frames]
    assert times == sorted(times)
    for f in frames:
        assert f["session_id"] == SESSION and f["content-type"] == "image/jpeg"
        img = Image.open(io.BytesIO(f["body"]))
        assert img.format == "JPEG" and img.size == (1280, 800)
        assert f["x-page-url"].startswith(shop.url)
    product_frames = [f for f in frames if "/p/" in f["x-page-url"]]
    assert len(product_frames) >= 0.4 * len(frames)
    assert any(f["x-page-title"].startswith(catalog.by_id[result.opened_product_ids[0]].title)
               for f in product_frames)

    # the hidden preference: >= 4 opened products match it, and their pages were captured
    matching = [pid for pid in result.opened_product_ids if result.preference.matches(catalog.by_id[pid])]
    assert result.preference.kind == "brand" and len(matching) >= 4
    captured = {f["x-page-url"].split("/p/")[1].split("?")[0] for f in product_frames}
    assert set(matching) <= captured
    assert any(line.startswith(f"opened {matching[0]} ") for line in lines)
    assert lines[-1] == f"frames: {len(frames)} sent, 0 failed"

    # the shop issued the visitor's session itself (a signed cookie, never the shopper's id from a URL) and
    # saw the same cookie on every product page
    assert requests[0][0] == "/" and not requests[0][1]
    product_requests = [cookie for path, cookie in requests if path.startswith("/p/")]
    assert len(product_requests) >= len(result.opened_product_ids)
    assert len(set(product_requests)) == 1 and product_requests[0].startswith(f"{COOKIE}=")
    assert SESSION not in product_requests[0]


def test_shopper_browses_the_boutique_layout(demo_catalog) -> None:
    """The same scripted shopper on the second layout (filters in a sidebar, tiles, no ids on screen): its
    selectors are hidden data attributes, so it browses both layouts unchanged."""
    catalog = Catalog.load(demo_catalog(7, 1200))
    frames: list[dict] = []
    lines: list[str] = []
    shop_app = create_app(catalog, storefront_url="http://127.0.0.1:9", layout="boutique")
    with Served(shop_app, lifespan=False, ready_path=None) as shop, \
            Served(_gateway_stand_in(frames), lifespan=False, ready_path=None) as gateway:
        result = asyncio.run(run_shopper(shop.url, gateway.url, API_KEY, "e2e-capture-boutique", "price", catalog,
                                         seed=7, fps=2.0, progress=lines.append, dwell=(1.0, 1.5)))
    print("\n" + "; ".join(lines))
    assert result.frames_failed == 0 and result.frames_sent == len(frames) > 0
    assert any(line.startswith("filtered ") for line in lines)  # the price filter form in the sidebar
    matching = [pid for pid in result.opened_product_ids if result.preference.wants(catalog.by_id[pid])]
    assert len(matching) >= 4
    captured = {f["x-page-url"].split("/p/")[1].split("?")[0] for f in frames if "/p/" in f["x-page-url"]}
    assert set(result.opened_product_ids) <= captured
    assert any(f["x-page-title"].endswith(" Maison Verde") for f in frames)  # headers carry ASCII only
