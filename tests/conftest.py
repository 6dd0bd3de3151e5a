"""Shared fixtures. `kafka_bootstrap` is a real broker for integration tests: KAFKA_BOOTSTRAP_SERVERS if set, else a
single-node Kafka from infra/kafka started once per test session. Lazy: a unit-only run never starts Java."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

# The suite starts dozens of service processes (two stacks, restarts, fault injection, the deploy rehearsal),
# each importing the project's modules. With bytecode writing off (PYTHONDONTWRITEBYTECODE, set on some machines)
# every start compiled them all again, seconds each on 2 busy cores; written once, later starts reuse them.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

REPO_ROOT = Path(__file__).resolve().parents[1]
BROKER_PY = REPO_ROOT / "infra" / "kafka" / "broker.py"
_BROKER_MODULE = "interarec_infra_kafka_broker"


def load_broker_module() -> ModuleType:
    """infra/kafka/broker.py is a script, not a package: load it by path (once)."""
    if _BROKER_MODULE in sys.modules:
        return sys.modules[_BROKER_MODULE]
    spec = importlib.util.spec_from_file_location(_BROKER_MODULE, BROKER_PY)
    assert spec is not None and spec.loader is not None, BROKER_PY
    module = importlib.util.module_from_spec(spec)
    sys.modules[_BROKER_MODULE] = module  # before exec, so the module can be found by name while it loads
    spec.loader.exec_module(module)
    return module


# `make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadfile`): most of its wall time is tests
# waiting on real things (a shopper's dwell, a broker's restart, OCR in other processes), which overlap well. A
# work unit is a whole module (its module fixtures set up once, its tests in their order); each worker is its own
# session, so session fixtures (the broker, the stack, the catalog) exist once per worker that uses them. Units are
# handed out in collection order (`--no-loadscope-reorder`): the slowest kinds first, so the short ones fill the end.
# (`--dist loadgroup` cannot merge modules: with pytest 9 xdist 3.8's group suffix on node ids has no effect.)
_UNIT_ORDER = (("fault_stack", "fault_broker"), ("stack",), ("kafka_secured",))
_DIR_ORDER = ("tests/e2e", "tests/reliability", "tests/deploy", "tests/integration", "tests/ops", "tests/unit")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    modules: dict[str, set[str]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], set()).update(getattr(item, "fixturenames", ()))

    def rank(module: str) -> int:
        fixtures = modules[module]
        for i, names in enumerate(_UNIT_ORDER):
            if fixtures & set(names):
                return i
        return len(_UNIT_ORDER) + next((i for i, d in enumerate(_DIR_ORDER) if module.startswith(d)), len(_DIR_ORDER))

    # every worker sorts alike (xdist checks the workers collected the same list); stable: modules stay together
    items.sort(key=lambda item: rank(item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def kafka_broker_module() -> ModuleType:
    return load_broker_module()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a broker with the project's topics applied."""
    from services.common.topics import apply_topics

    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        apply_topics(external)
        yield external
        return
    kb = load_broker_module()
    port, controller_port = kb.free_ports(2)
    # Data and logs (kafka.log, server.log) stay in pytest's tmp dir for post-mortems; pytest prunes old ones.
    with kb.started(tmp_path_factory.mktemp("kafka"), port=port, controller_port=controller_port) as broker:
        apply_topics(broker.bootstrap)
        yield broker.bootstrap


@pytest.fixture(scope="session")
def kafka_secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A second broker, secured as Strimzi runs Kafka (tests/secured_kafka.py): TLS + SCRAM logins, ACLs of the
    chart's KafkaUsers. Its own groups and topics, so no plaintext worker of another test can take its work."""
    from tests.secured_kafka import secured_kafka

    with secured_kafka(load_broker_module(), tmp_path_factory) as secured:
        yield secured


@pytest.fixture(scope="session")
def catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deterministic demo catalog, generated once per test session."""
    from services.common.demo_catalog import generate

    return generate(tmp_path_factory.mktemp("catalog"))


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, int], Path]:
    """demo_catalog(seed, n_products): a demo catalog of that seed and size, generated once per test session
    (generation draws an image per product: tens of seconds for a thousand on a busy machine). Read-only for
    its users, as the generator is deterministic."""
    from services.common.demo_catalog import generate

    made: dict[tuple[int, int], Path] = {}

    def get(seed: int, n_products: int) -> Path:
        if (seed, n_products) not in made:
            out = tmp_path_factory.mktemp(f"catalog-{seed}-{n_products}")
            made[seed, n_products] = generate(out, seed=seed, n_products=n_products)
        return made[seed, n_products]

    return get


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, kafka_broker_module: ModuleType, catalog_path: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """All five services and the demo shop as real processes on free ports, against the test broker.
    Service logs stay in the pytest tmp dir (var*/logs/) for post-mortems."""
    from infra.local.stack import Ports, Stack

    var = tmp_path_factory.mktemp("var")
    ports = Ports(*kafka_broker_module.free_ports(6))
    s = Stack(bootstrap=kafka_bootstrap, catalog_path=catalog_path, log_dir=var / "logs", var_dir=var, ports=ports)
    s.start(timeout_s=180, progress=print)
    yield s
    s.stop()
