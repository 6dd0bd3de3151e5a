"""The fault suite's own broker and stack: it restarts and freezes its broker, so it never shares the broker the
other tests use. One broker and one stack serve every fault test (each drives its own session)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from services.common.catalog import Catalog


@pytest.fixture(scope="session")
def fault_broker(kafka_broker_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from infra.local.stack import BrokerControl
    from services.common.topics import apply_topics

    kb = kafka_broker_module
    port, controller_port = kb.free_ports(2)
    broker = kb.start(tmp_path_factory.mktemp("fault-kafka"), port=port, controller_port=controller_port)
    control = BrokerControl(kb, broker, controller_port)
    try:
        apply_topics(broker.bootstrap)
        yield control
    finally:
        with contextlib.suppress(ProcessLookupError):
            control.resume()  # a failed test may have left it frozen
        control.broker.stop()


@pytest.fixture(scope="session")
def fault_stack(fault_broker, kafka_broker_module: ModuleType, catalog_path: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from infra.local.stack import Ports, Stack

    var = tmp_path_factory.mktemp("fault-var")
    s = Stack(bootstrap=fault_broker.bootstrap, catalog_path=catalog_path, log_dir=var / "logs", var_dir=var,
              ports=Ports(*kafka_broker_module.free_ports(6)))
    s.start(timeout_s=180, progress=print)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def shop_visits(fault_stack, catalog_path: Path) -> list:
    """Real screenshots of the demo shop: a brand's category listing and twelve of its product pages (14 distinct
    frames per loop, above the gateway's exact-duplicate memory of 8 per session, so each loop is new again)."""
    from urllib.parse import quote

    from tests.support import record_visits

    catalog = Catalog.load(catalog_path)
    by_pair: dict[tuple[str, str], list[str]] = {}
    for p in sorted(catalog.products, key=lambda p: p.product_id):
        by_pair.setdefault((p.category, p.brand), []).append(p.product_id)
    (category, brand), pids = max(by_pair.items(), key=lambda kv: (len(kv[1]), kv[0]))
    paths = [f"/c/{quote(category)}?brand={quote(brand)}", *(f"/p/{pid}" for pid in pids[:12])]
    return record_visits(fault_stack.shop_url, paths)
