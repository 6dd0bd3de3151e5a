"""A broker secured as Strimzi runs Kafka, for tests: a SASL_SSL listener (TLS with certificates from
tests/kafka_tls.py, SCRAM-SHA-512 logins) and KRaft's StandardAuthorizer, with one SCRAM user per KafkaUser
the chart renders with production values, holding exactly that KafkaUser's ACLs (as Strimzi's User Operator
would create them). The PLAINTEXT listener (principal ANONYMOUS) stays a super user for test set-up."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pytest
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

from tests.kafka_tls import KafkaTls, make_kafka_tls
from tests.ops.chart_support import PRODUCTION_VALUES, by_kind, render


@dataclass(frozen=True)
class SecuredKafka:
    bootstrap: str  # the SASL_SSL listener only
    alias_bootstrap: str  # the same listener at 127.0.0.2, which the broker's certificate does not name
    plaintext_bootstrap: str  # ANONYMOUS, a super user: for test set-up only
    tls: KafkaTls
    env: dict[str, str]  # what the chart sets on a pod: protocol, CA file, user, password file (a super user)
    service_env: dict[str, dict[str, str]]  # per component: its own KafkaUser's name and password file
    passwords: dict[str, str] = field(repr=False, default_factory=dict)  # KafkaUser name -> SCRAM password


def chart_kafka_users() -> dict[str, dict]:
    """component -> the KafkaUser the production values render for it."""
    return {u["metadata"]["labels"]["app.kubernetes.io/name"]: u for u in by_kind(render(PRODUCTION_VALUES),
                                                                                   "KafkaUser")}


def broker_acls(user: dict) -> list:
    """A KafkaUser's spec.authorization.acls as the broker's ACL bindings (what Strimzi's User Operator
    creates through the Admin API)."""
    out = []
    for rule in user["spec"]["authorization"]["acls"]:
        res = rule["resource"]
        pattern = ResourcePattern(ResourceType[res["type"].upper()], res.get("name", "kafka-cluster"),
                                  ACLResourcePatternType[{"prefix": "PREFIXED"}.get(res.get("patternType"), "LITERAL")])
        for op in rule["operations"]:
            operation = ACLOperation[{"IdempotentWrite": "IDEMPOTENT_WRITE"}.get(op, op.upper())]
            out.append(ACL(f"User:{user['metadata']['name']}", "*", operation, ACLPermissionType.ALLOW, pattern))
    return out


@contextlib.contextmanager
def secured_kafka(kb: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """Start the broker (own data dir and ports), its users and ACLs, and the project's topics."""
    from services.common.topics import apply_topics

    tls = make_kafka_tls(tmp_path_factory.mktemp("kafka-tls"))
    secrets_dir = tls.ca_file.parent

    def password_file(user: str, password: str) -> str:
        path = secrets_dir / f"{user}.password"
        path.write_text(password + "\n")  # as mounted from the KafkaUser's Secret
        return str(path)

    users = chart_kafka_users()
    passwords = {u["metadata"]["name"]: secrets.token_hex(12) for u in users.values()}
    port, controller_port, sasl_port = kb.free_ports(3)
    alias = ("127.0.0.2", kb.free_port("127.0.0.2"))
    # tls.username is the operator's (super) user, for the topic tool and the dead-letter tool
    listener = kb.SaslSslListener(port=sasl_port, keystore=tls.keystore, keystore_password=tls.keystore_password,
                                  users={tls.username: tls.password, **passwords}, authorizer=True,
                                  super_users=(tls.username,), alias=alias)
    env = {"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INTERAREC_KAFKA_CA_FILE": str(tls.ca_file),
           "INTERAREC_KAFKA_SASL_USERNAME": tls.username,
           "INTERAREC_KAFKA_SASL_PASSWORD_FILE": password_file(tls.username, tls.password)}
    service_env = {component: {"INTERAREC_KAFKA_SASL_USERNAME": u["metadata"]["name"],
                               "INTERAREC_KAFKA_SASL_PASSWORD_FILE": password_file(u["metadata"]["name"],
                                                                                   passwords[u["metadata"]["name"]])}
                   for component, u in users.items()}
    with kb.started(tmp_path_factory.mktemp("kafka-sasl"), port=port, controller_port=controller_port,
                    sasl_ssl=listener) as broker:
        apply_topics(broker.bootstrap)  # as the chart's KafkaTopics would: no component may create them
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            acls = [acl for u in users.values() for acl in broker_acls(u)]
            result = admin.create_acls(acls)
            assert not result["failed"], result["failed"]
            # created through the controller, applied by the broker's authorizer a moment later: a client that
            # logs in first would be refused (a flaky TOPIC_AUTHORIZATION_FAILED); the broker lists them once applied
            every = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                              ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
            distinct = {(a.principal, a.operation, a.resource_pattern.resource_type, a.resource_pattern.resource_name,
                         a.resource_pattern.pattern_type) for a in acls}  # one binding may come from two rules
            deadline = time.monotonic() + 30
            while len(admin.describe_acls(every)[0]) < len(distinct):
                assert time.monotonic() < deadline, "the broker did not apply the ACLs within 30 s"
                time.sleep(0.1)
        finally:
            admin.close()
        yield SecuredKafka(f"{broker.host}:{sasl_port}", f"{alias[0]}:{alias[1]}", broker.bootstrap, tls, env,
                           service_env, passwords)
