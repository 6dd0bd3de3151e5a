"""`interarec <command>`: the project's console entry point (installed by pyproject.toml)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["eval"]:
        from services.eval.__main__ import main as evaluate

        return evaluate(args[1:])
    print("usage: interarec eval {capture,score,run} [options]   (interarec eval -h for details)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
