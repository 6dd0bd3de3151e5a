"""The README's worker settings table, generated from the settings dataclasses (services/common/settings.py).

  python -m infra.settings_doc           print the table
  python -m infra.settings_doc --write   replace it in README.md (between the worker-settings markers)

tests/unit/test_worker_settings.py fails when README.md and the dataclasses disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.settings import replace_block, table
from services.decomposer.settings import DecomposerSettings
from services.gateway.settings import GatewaySettings
from services.optimizer.settings import OptimizerSettings
from services.summarizer.settings import SummarizerSettings

README = Path(__file__).resolve().parents[1] / "README.md"
WORKERS = [DecomposerSettings, OptimizerSettings, SummarizerSettings, GatewaySettings]


def main(argv: list[str]) -> int:
    block = table(WORKERS)
    if "--write" in argv:
        README.write_text(replace_block(README.read_text(), block))
        print(f"wrote the worker settings table into {README}")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
