"""The scripted shoppers' settings (a test-bed tool, not a pipeline service), each variable declared once
(services/common/settings.py): `python -m services.shoppers` takes them as its option defaults."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import from_env, setting


@dataclass(frozen=True)
class ShopperSettings:
    shop_url: str = setting("INTERAREC_SHOP_URL", "http://127.0.0.1:8700",
                            "the shop a scripted shopper browses (`python -m services.shoppers`)")
    gateway_url: str = setting("INTERAREC_GATEWAY_URL", "http://127.0.0.1:8500",
                               "the capture gateway a scripted shopper sends its frames to")
    api_key: str = setting("INTERAREC_API_KEY", "", "the tenant key a scripted shopper sends frames with",
                           default_doc="none (required, or `--api-key`)")
    chromium_path: str = setting("INTERAREC_CHROMIUM_PATH", "/usr/bin/chromium",
                                 "the browser the scripted shoppers and the capture tests drive")

    @classmethod
    def from_env(cls) -> ShopperSettings:
        return from_env(cls)
