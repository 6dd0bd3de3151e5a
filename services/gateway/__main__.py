"""`python -m services.gateway`: serve the gateway (configuration from INTERAREC_* environment variables)."""

import sys

import uvicorn

from services.common.config import ConfigError
from services.common.logs import setup_logging
from services.gateway.app import GatewaySettings, create_app


def main() -> int:
    setup_logging("gateway")
    try:
        settings = GatewaySettings.from_env()
    except ConfigError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
