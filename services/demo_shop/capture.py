"""The demo shop includes InteraRec's capture script like any shop would: one <script> tag (templates/
_capture.html) loading the built bundle (capture-js/, `make capture-js`), a session token minted server side
(`/panel-token`, the storefront API's token endpoint), and consent given by the page. Frames then come from
the page itself, sent straight to the gateway."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from fastapi.templating import Jinja2Templates

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLE = REPO_ROOT / "capture-js" / "dist" / "interarec-capture.js"
SCRIPT_PATH = "/interarec-capture.js"


def install(app: FastAPI, templates: Jinja2Templates, gateway_url: str | None, bundle: Path | None = None) -> None:
    """With a gateway URL every page carries the script tag (and a missing bundle stops the shop at start);
    without one the shop serves no script and pages say nothing about capture."""
    if not gateway_url:
        return
    bundle = bundle or BUNDLE
    if not bundle.is_file():
        raise FileNotFoundError(f"capture script {bundle} is not built: run `make capture-js`")
    templates.env.globals.update(capture_gateway_url=gateway_url.rstrip("/"), capture_script=SCRIPT_PATH)

    @app.get(SCRIPT_PATH, include_in_schema=False)
    async def capture_script() -> FileResponse:
        if not bundle.is_file():
            raise HTTPException(404, "capture script not built")
        return FileResponse(bundle, media_type="text/javascript", headers={"Cache-Control": "no-cache"})
