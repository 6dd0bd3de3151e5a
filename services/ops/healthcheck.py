"""Container HEALTHCHECK: `python -m services.ops.healthcheck INTERAREC_GATEWAY_PORT 8500` exits 0 when
/healthz on that port (from the variable, else the default) answers 200. No curl in the slim images."""

from __future__ import annotations

import os
import sys
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m services.ops.healthcheck PORT_VARIABLE DEFAULT_PORT", file=sys.stderr)
        return 2
    port = os.environ.get(argv[0]) or argv[1]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
