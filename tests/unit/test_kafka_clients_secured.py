"""No Kafka client is built without the security settings: every KafkaProducer / KafkaConsumer /
KafkaAdminClient / AIOKafka* construction in the shipped code passes the keyword arguments of
services/common/kafka_security.py, and the Faust app settings include faust_kwargs()."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient", "AIOKafkaConsumer", "AIOKafkaProducer",
           "AIOKafkaAdminClient"}
HELPERS = {"kafka_python_kwargs", "aiokafka_kwargs"}
# The local test broker's own readiness probe: PLAINTEXT by design (infra/kafka/broker.py is stdlib + kafka-python).
EXEMPT = {"infra/kafka/broker.py"}


def _name(node: ast.AST) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _auth_names(tree: ast.AST) -> set[str]:
    """Variables and attributes assigned from a kafka_security helper (auth = kafka_python_kwargs(...))."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _name(node.value.func) in HELPERS:
            names |= {_name(t) for t in node.targets}
    return names


def constructions() -> list[tuple[str, int, ast.Call, set[str]]]:
    found = []
    for path in [*REPO_ROOT.glob("services/**/*.py"), *REPO_ROOT.glob("infra/**/*.py")]:
        rel = str(path.relative_to(REPO_ROOT))
        if rel in EXEMPT:
            continue
        tree = ast.parse(path.read_text())
        auth = _auth_names(tree)
        found += [(rel, node.lineno, node, auth) for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and _name(node.func) in CLIENTS]
    return found


def secured(call: ast.Call, auth: set[str]) -> bool:
    for kw in call.keywords:
        if kw.arg is None:  # **something
            value = kw.value
            if isinstance(value, ast.Call) and _name(value.func) in HELPERS:
                return True
            if _name(value) in auth:
                return True
    return False


def test_every_kafka_client_gets_the_security_kwargs() -> None:
    calls = constructions()
    assert len(calls) >= 8  # gateway/storefront producer and probe, reader, lag reader, tools, follower
    unsecured = [f"{rel}:{line}" for rel, line, call, auth in calls if not secured(call, auth)]
    assert not unsecured, f"Kafka clients built without kafka_security's kwargs: {unsecured}"


def test_the_check_catches_a_client_without_them() -> None:
    tree = ast.parse("from kafka import KafkaConsumer\nc = KafkaConsumer(bootstrap_servers='x', **other)\n"
                     "auth = kafka_python_kwargs()\nd = KafkaConsumer(bootstrap_servers='x', **auth)\n")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == "KafkaConsumer"]
    assert [secured(c, _auth_names(tree)) for c in calls] == [False, True]


def test_faust_apps_get_the_credentials() -> None:
    source = (REPO_ROOT / "services" / "common" / "worker.py").read_text()
    tree = ast.parse(source)
    apps = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == "App"]
    assert len(apps) == 1, "one faust.App construction, in make_app"
    settings = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == "dict"
                and any(kw.arg is None and isinstance(kw.value, ast.Call) and _name(kw.value.func) == "faust_kwargs"
                        for kw in n.keywords)]
    assert settings, "make_app's settings must include **kafka_security.faust_kwargs()"
    other_apps = [str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob("services/**/*.py")
                  if p.name != "worker.py" and "faust.App(" in p.read_text()]
    assert not other_apps, f"Faust apps built outside make_app: {other_apps}"
