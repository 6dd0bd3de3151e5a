"""The demo shop's settings, each variable declared once (services/common/settings.py); the README's settings
table is generated from this class."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common import config
from services.common.settings import setting
from services.common.tenants import DEMO_KEY, demo_mode
from services.demo_shop.app import LAYOUTS
from services.demo_shop.session import MIN_SECRET_BYTES
from services.demo_shop.themes import theme_number


def _layout(raw: str) -> str:
    layout = raw or "classic"
    if layout not in LAYOUTS and theme_number(layout) is None:
        raise config.ConfigError(f"INTERAREC_SHOP_LAYOUT={layout!r} must be one of {', '.join(LAYOUTS)} or theme-<n>")
    return layout


def _secret(raw: str) -> bytes | None:
    if raw and len(raw) < MIN_SECRET_BYTES:
        raise config.ConfigError(f"INTERAREC_SHOP_SESSION_SECRET must be at least {MIN_SECRET_BYTES} characters")
    return raw.encode() or None


def _api_key(raw: str) -> str | None:
    return raw or (DEMO_KEY if demo_mode() else None)


@dataclass(frozen=True)
class DemoShopSettings:
    host: str = setting("INTERAREC_SHOP_HOST", "127.0.0.1", "the demo shop's bind address")
    port: int = setting("INTERAREC_SHOP_PORT", 8700, "the demo shop's port", minimum=1, maximum=65535)
    catalog_path: Path = setting("INTERAREC_CATALOG_PATH", config.catalog_path, "the catalog (see below)",
                                 default_doc="`var/catalog/catalog.parquet`")
    storefront_url: str = setting("INTERAREC_STOREFRONT_PUBLIC_URL", "http://127.0.0.1:8600",
                                  "where the shop's browser panel finds the storefront API")
    storefront_backend_url: str = setting("INTERAREC_STOREFRONT_BACKEND_URL", "",
                                          "where the demo shop's server reaches the storefront API",
                                          default_doc="the public URL")
    api_key: str | None = setting("INTERAREC_SHOP_API_KEY", None, "the demo shop's key for the storefront API "
                                  "(server side only)", default_doc="`demo-key` in demo mode", parse=_api_key)
    layout: str = setting("INTERAREC_SHOP_LAYOUT", "classic", "the demo shop's layout: `classic`, `boutique` or a "
                          "seeded theme `theme-<n>` (see below)", default_doc="`classic`", parse=_layout)
    capture_gateway_url: str = setting("INTERAREC_SHOP_CAPTURE_GATEWAY_URL", "",
                                       "where browsers reach the gateway; set, every demo-shop page carries the "
                                       "capture script (`make run` sets it)")
    session_secret: bytes | None = setting(
        "INTERAREC_SHOP_SESSION_SECRET", None, "signs the demo shop's visitor session cookie; 32+ characters, the "
        "same on every replica. The shop issues every visitor's session id itself and ignores a `?session=` in "
        "the URL (session fixation)", default_doc="(random per process)", parse=_secret)
