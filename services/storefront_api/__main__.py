"""`python -m services.storefront_api`: serve the storefront API (configuration from INTERAREC_* variables)."""

import sys

import uvicorn

from services.common.config import ConfigError
from services.common.logs import setup_logging
from services.storefront_api.app import StorefrontSettings, create_app


def main() -> int:
    setup_logging("storefront_api")
    try:
        settings = StorefrontSettings.from_env()
    except ConfigError as exc:
        print(f"storefront-api: configuration error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
