"""`interarec <command>`: the project's console entry point (installed by pyproject.toml).

  interarec status ...   health of a Helm release (services/ops/cli.py)
  interarec eval ...     persona evaluation with baselines (services/eval)
"""

from __future__ import annotations

import sys

USAGE = ("usage: interarec status [options]                 (interarec status -h for details)\n"
         "       interarec eval {capture,score,run} [options] (interarec eval -h for details)")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["eval"]:
        from services.eval.__main__ import main as evaluate

        return evaluate(args[1:])
    if args[:1] == ["status"]:
        from services.ops.cli import main as ops

        return ops(args)
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
