"""Kafka security settings: validated at start-up with a message naming the variable, and turned into each
client library's arguments the same way (the broker round trips are in tests/integration/test_kafka_security.py)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from services.common import kafka_security
from services.common.config import ConfigError

VARS = ("INTERAREC_KAFKA_SECURITY_PROTOCOL", "INTERAREC_KAFKA_CA_FILE", "INTERAREC_KAFKA_SSL_CHECK_HOSTNAME",
        "INTERAREC_KAFKA_SASL_MECHANISM", "INTERAREC_KAFKA_SASL_USERNAME", "INTERAREC_KAFKA_SASL_PASSWORD",
        "INTERAREC_KAFKA_SASL_PASSWORD_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
                    "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt")], check=True, capture_output=True)
    return d / "ca.crt"


def sasl_env(monkeypatch: pytest.MonkeyPatch, ca_file: Path, password_file: Path) -> None:
    monkeypatch.setenv("INTERAREC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("INTERAREC_KAFKA_CA_FILE", str(ca_file))
    monkeypatch.setenv("INTERAREC_KAFKA_SASL_USERNAME", "interarec-gateway")
    monkeypatch.setenv("INTERAREC_KAFKA_SASL_PASSWORD_FILE", str(password_file))


def test_default_is_plaintext_and_adds_nothing_but_the_protocol() -> None:
    assert kafka_security.kafka_python_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert kafka_security.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert kafka_security.faust_kwargs() == {}
    assert kafka_security.librdkafka_config() == {"security.protocol": "PLAINTEXT"}
    kafka_security.preflight("127.0.0.1:1")  # nothing to check, no connection attempted


def test_sasl_ssl_from_a_mounted_secret(monkeypatch, ca_file, tmp_path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-from-strimzi\n")  # the trailing newline is not part of the password
    sasl_env(monkeypatch, ca_file, secret)
    kp = kafka_security.kafka_python_kwargs()
    assert kp["security_protocol"] == "SASL_SSL" and kp["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kp["sasl_plain_username"], kp["sasl_plain_password"]) == ("interarec-gateway", "s3cret-from-strimzi")
    ctx = kp["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "ca"),),)]  # only the cluster CA
    ak = kafka_security.aiokafka_kwargs()
    assert ak["sasl_plain_password"] == "s3cret-from-strimzi" and ak["ssl_context"].check_hostname
    creds = kafka_security.faust_kwargs()["broker_credentials"]
    assert (creds.protocol.value, creds.mechanism.value, creds.username) == ("SASL_SSL", "SCRAM-SHA-512",
                                                                            "interarec-gateway")
    assert "s3cret" not in repr(kafka_security.from_env()) and "s3cret" not in repr(creds)
    # librdkafka (the gateway's producer): only the cluster CA, host names verified, the same login
    assert kafka_security.librdkafka_config() == {
        "security.protocol": "SASL_SSL", "ssl.ca.location": str(ca_file),
        "ssl.endpoint.identification.algorithm": "https", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "interarec-gateway", "sasl.password": "s3cret-from-strimzi"}


def test_tls_only_with_hostname_verification_off(monkeypatch, ca_file) -> None:
    monkeypatch.setenv("INTERAREC_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("INTERAREC_KAFKA_CA_FILE", str(ca_file))
    monkeypatch.setenv("INTERAREC_KAFKA_SSL_CHECK_HOSTNAME", "false")
    kp = kafka_security.kafka_python_kwargs()
    assert "sasl_mechanism" not in kp and kp["ssl_check_hostname"] is False
    assert not kp["ssl_context"].check_hostname and kp["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert kafka_security.faust_kwargs()["broker_credentials"].protocol.value == "SSL"
    assert kafka_security.librdkafka_config() == {"security.protocol": "SSL", "ssl.ca.location": str(ca_file),
                                                  "ssl.endpoint.identification.algorithm": "none"}


def test_tls_without_a_ca_file_trusts_the_system_store_in_librdkafka_too(monkeypatch) -> None:
    """The wheel's librdkafka has its own OpenSSL, whose built-in CA path is not the system's: it is told to
    probe the usual locations, as ssl_context() loads the default certificates."""
    monkeypatch.setenv("INTERAREC_KAFKA_SECURITY_PROTOCOL", "SSL")
    assert kafka_security.librdkafka_config() == {"security.protocol": "SSL", "ssl.ca.location": "probe",
                                                  "ssl.endpoint.identification.algorithm": "https"}


@pytest.mark.parametrize(("env", "message"), [
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "must be one of PLAINTEXT, SSL, SASL_SSL"),
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs INTERAREC_KAFKA_SASL_USERNAME"),
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INTERAREC_KAFKA_SASL_USERNAME": "u"},
     "needs INTERAREC_KAFKA_SASL_USERNAME"),
    ({"INTERAREC_KAFKA_SASL_USERNAME": "u", "INTERAREC_KAFKA_SASL_PASSWORD": "p"}, "set it to SASL_SSL"),
    ({"INTERAREC_KAFKA_CA_FILE": "/etc/ca.crt"}, "set it to SSL or SASL_SSL"),
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SSL", "INTERAREC_KAFKA_CA_FILE": "/nonexistent/ca.crt"},
     "INTERAREC_KAFKA_CA_FILE=/nonexistent/ca.crt: not a readable PEM certificate"),
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INTERAREC_KAFKA_SASL_USERNAME": "u",
      "INTERAREC_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password"},
     "INTERAREC_KAFKA_SASL_PASSWORD_FILE=/nonexistent/password: cannot be read"),
    ({"INTERAREC_KAFKA_SASL_PASSWORD_FILE": "/x", "INTERAREC_KAFKA_SASL_PASSWORD": "p"}, "not both"),
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SSL", "INTERAREC_KAFKA_SSL_CHECK_HOSTNAME": "maybe"},
     "must be true or false"),
    ({"INTERAREC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "INTERAREC_KAFKA_SASL_MECHANISM": "PLAIN"},
     "must be one of SCRAM-SHA-512, SCRAM-SHA-256"),
])
def test_misconfiguration_is_one_clear_error(monkeypatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        kafka_security.from_env()


def test_a_file_that_is_not_a_certificate_is_refused_at_start(monkeypatch, tmp_path) -> None:
    bogus = tmp_path / "ca.crt"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("INTERAREC_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("INTERAREC_KAFKA_CA_FILE", str(bogus))
    with pytest.raises(ConfigError, match="not a readable PEM certificate"):
        kafka_security.from_env()


def test_empty_password_file_is_refused(monkeypatch, ca_file, tmp_path) -> None:
    empty = tmp_path / "password"
    empty.write_text("\n")
    sasl_env(monkeypatch, ca_file, empty)
    with pytest.raises(ConfigError, match="is empty"):
        kafka_security.from_env()


def test_unreachable_broker_is_left_to_the_clients_retry(monkeypatch, ca_file, tmp_path) -> None:
    """Pods start before the brokers answer: only a broker that refuses us stops the process."""
    secret = tmp_path / "password"
    secret.write_text("p")
    sasl_env(monkeypatch, ca_file, secret)
    from infra.kafka.broker import free_port

    kafka_security.preflight(f"127.0.0.1:{free_port()}", timeout_s=2.0)  # connection refused: no error
