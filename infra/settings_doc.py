"""The README's settings table, generated from the services' settings dataclasses (services/common/settings.py).

  python -m infra.settings_doc           print the table
  python -m infra.settings_doc --write   replace it in README.md (between the worker-settings markers)

tests/unit/test_worker_settings.py fails when README.md and the dataclasses disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.kafka_security import KafkaSecurity
from services.common.llm import LlmSettings
from services.common.settings import replace_block, table
from services.common.topics import TopicSettings
from services.decomposer.settings import DecomposerSettings
from services.demo_shop.settings import DemoShopSettings
from services.gateway.settings import GatewaySettings
from services.ops.settings import StatusSettings
from services.optimizer.settings import OptimizerSettings
from services.shoppers.settings import ShopperSettings
from services.storefront_api.app import StorefrontSettings
from services.summarizer.settings import SummarizerSettings

README = Path(__file__).resolve().parents[1] / "README.md"
# One line per service: its settings dataclass (a variable two services read is listed once, where first seen).
SERVICES = [
    DecomposerSettings,
    OptimizerSettings,
    SummarizerSettings,
    StorefrontSettings,
    DemoShopSettings,
    GatewaySettings,
    KafkaSecurity,  # every Kafka client of every service and tool
    TopicSettings,  # every process: the session-keyed topics' partitions
    ShopperSettings,  # the scripted shoppers (a test-bed tool)
    LlmSettings,  # the model client of the `vllm`/`llm` backends (summarizer, decomposer, storefront queries)
    StatusSettings,  # `interarec status`
]


def main(argv: list[str]) -> int:
    block = table(SERVICES)
    if "--write" in argv:
        README.write_text(replace_block(README.read_text(), block))
        print(f"wrote the settings table into {README}")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
