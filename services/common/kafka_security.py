"""How every Kafka client authenticates: TLS (trusting the cluster CA) and SASL SCRAM, as Strimzi runs Kafka.

One settings object read from the environment and validated at start-up, and one function per client
library turning it into that library's keyword arguments, so no client is built without it:

    kafka_python_kwargs()  kafka-python KafkaProducer / KafkaConsumer / KafkaAdminClient
    aiokafka_kwargs()      aiokafka AIOKafkaConsumer / AIOKafkaProducer
    librdkafka_config()    librdkafka (confluent-kafka) configuration properties: the gateway's producer
    faust_kwargs()         faust.App settings (broker_credentials)

`preflight()` makes one connection at start-up so a wrong password or an untrusted CA stops the process
with one line naming the cause: the clients themselves would only log and retry forever.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common import config
from services.common.settings import Env, setting
from services.common.settings import from_env as read_settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")


class KafkaSecurityError(config.ConfigError):
    """The broker refused us (TLS or authentication): retrying cannot help, so the process stops."""


def _ca_file(raw: str) -> Path | None:
    return Path(raw) if raw else None


def _check_hostname(raw: str) -> bool:
    value = (raw or "true").lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise config.ConfigError(f"INTERAREC_KAFKA_SSL_CHECK_HOSTNAME={value!r} must be true or false")


def _password() -> str:
    inline = config.env_str("INTERAREC_KAFKA_SASL_PASSWORD", "")
    path = config.env_str("INTERAREC_KAFKA_SASL_PASSWORD_FILE", "")
    if inline and path:
        raise config.ConfigError("set INTERAREC_KAFKA_SASL_PASSWORD_FILE or INTERAREC_KAFKA_SASL_PASSWORD, not both")
    if not path:
        return inline
    try:
        # A Kubernetes Secret mounted as a file; a trailing newline from `echo` is not part of the password.
        secret = Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        raise config.ConfigError(f"INTERAREC_KAFKA_SASL_PASSWORD_FILE={path}: cannot be read ({exc.strerror})") \
            from None
    if not secret:
        raise config.ConfigError(f"INTERAREC_KAFKA_SASL_PASSWORD_FILE={path} is empty")
    return secret


@dataclass(frozen=True)
class KafkaSecurity:
    """Every variable declared once (services/common/settings.py), for every Kafka client of every service and
    tool; `from_env()` reads them and checks that they fit together."""

    protocol: str = setting("INTERAREC_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "TLS (`SSL`), TLS + SCRAM login "
                            "(`SASL_SSL`) or neither, for every Kafka client of every service and tool",
                            choices=PROTOCOLS)
    ca_file: Path | None = setting("INTERAREC_KAFKA_CA_FILE", None, "PEM of the CA the brokers' certificates must "
                                   "chain to (Strimzi: `ca.crt` of `<cluster>-cluster-ca-cert`); when set, only "
                                   "this CA is trusted", default_doc="system trust store", parse=_ca_file)
    check_hostname: bool = setting("INTERAREC_KAFKA_SSL_CHECK_HOSTNAME", True, "verify that the broker's "
                                   "certificate names the host connected to (`true` / `false`)",
                                   default_doc="`true`", parse=_check_hostname)
    mechanism: str = setting("INTERAREC_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "the SCRAM variant",
                             choices=MECHANISMS)
    username: str = setting("INTERAREC_KAFKA_SASL_USERNAME", "", "the SCRAM user (Strimzi: the KafkaUser's name)",
                            default_doc="none (required for `SASL_SSL`)")
    # never in a repr, log line or error message
    password: str = field(default_factory=_password, repr=False, metadata={"computed": (
        Env("INTERAREC_KAFKA_SASL_PASSWORD_FILE", "the SCRAM password as a mounted Secret file (Strimzi: key "
            "`password` of the KafkaUser's Secret; a trailing newline is ignored)",
            default_doc="none (this or the next required for `SASL_SSL`)"),
        Env("INTERAREC_KAFKA_SASL_PASSWORD", "the password itself", default_doc="none"))})

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol == "SASL_SSL"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain (CERT_REQUIRED) and, by default, the name
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if self.ca_file is not None:  # only the cluster CA: a public CA's certificate is not the cluster's
                ctx.load_verify_locations(cafile=str(self.ca_file))
            else:
                ctx.load_default_certs()
        except (OSError, ssl.SSLError) as exc:
            raise config.ConfigError(f"INTERAREC_KAFKA_CA_FILE={self.ca_file}: not a readable PEM certificate "
                                     f"({exc})") from None
        ctx.check_hostname = self.check_hostname
        return ctx


def from_env() -> KafkaSecurity:
    """The INTERAREC_KAFKA_* security settings, validated (ConfigError names the variable at fault)."""
    security = read_settings(KafkaSecurity)
    protocol, username, password = security.protocol, security.username, security.password
    if security.sasl and not (username and password):
        raise config.ConfigError("INTERAREC_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs INTERAREC_KAFKA_SASL_USERNAME and "
                                 "INTERAREC_KAFKA_SASL_PASSWORD_FILE (or INTERAREC_KAFKA_SASL_PASSWORD)")
    if not security.sasl and (username or password):
        raise config.ConfigError(f"SASL credentials are set but INTERAREC_KAFKA_SECURITY_PROTOCOL={protocol}: "
                                 "set it to SASL_SSL (credentials are never sent without TLS)")
    if not security.tls and security.ca_file is not None:
        raise config.ConfigError(f"INTERAREC_KAFKA_CA_FILE is set but INTERAREC_KAFKA_SECURITY_PROTOCOL={protocol}: "
                                 "set it to SSL or SASL_SSL")
    security.ssl_context()  # a bad CA file fails here, at start-up
    return security


def kafka_python_kwargs(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    s = security or from_env()
    kwargs: dict[str, Any] = {"security_protocol": s.protocol}
    if s.tls:
        kwargs.update(ssl_context=s.ssl_context(), ssl_check_hostname=s.check_hostname)
    if s.sasl:
        kwargs.update(sasl_mechanism=s.mechanism, sasl_plain_username=s.username, sasl_plain_password=s.password)
    return kwargs


def aiokafka_kwargs(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka's AIOKafkaConsumer / AIOKafkaProducer (and aiokafka.conn.create_conn)."""
    s = security or from_env()
    kwargs: dict[str, Any] = {"security_protocol": s.protocol}
    if s.tls:
        kwargs["ssl_context"] = s.ssl_context()
    if s.sasl:
        kwargs.update(sasl_mechanism=s.mechanism, sasl_plain_username=s.username, sasl_plain_password=s.password)
    return kwargs


def librdkafka_config(security: KafkaSecurity | None = None) -> dict[str, str]:
    """librdkafka configuration properties (confluent-kafka Producer) for the same settings. The CA file, when
    set, is the only trust anchor (as in ssl_context()); otherwise the system's CA paths are probed (the wheel's
    librdkafka has its own OpenSSL, which would not find them by itself). Its OpenSSL (3.x) refuses TLS below 1.2
    at the default security level, as ssl_context() does."""
    s = security or from_env()
    config_: dict[str, str] = {"security.protocol": s.protocol}
    if s.tls:
        config_["ssl.ca.location"] = str(s.ca_file) if s.ca_file is not None else "probe"
        config_["ssl.endpoint.identification.algorithm"] = "https" if s.check_hostname else "none"
    if s.sasl:
        config_.update({"sasl.mechanism": s.mechanism, "sasl.username": s.username, "sasl.password": s.password})
    return config_


def faust_kwargs(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """faust.App settings: Faust hands broker_credentials to every aiokafka client it builds."""
    import faust

    s = security or from_env()
    if s.sasl:
        return {"broker_credentials": faust.SASLCredentials(username=s.username, password=s.password,
                                                            ssl_context=s.ssl_context(), mechanism=s.mechanism)}
    if s.tls:
        return {"broker_credentials": faust.SSLCredentials(s.ssl_context())}
    return {}


def preflight(bootstrap: str, security: KafkaSecurity | None = None, timeout_s: float = 10.0) -> None:
    """Connect once to the first reachable bootstrap server and authenticate. Raises KafkaSecurityError when
    the broker is reached but refuses us (untrusted certificate, wrong host name, failed SASL login); an
    unreachable broker is left to the clients, which retry until it is up. No-op for PLAINTEXT."""
    s = security or from_env()
    if not s.tls:
        return
    for host, port in config.bootstrap_addresses(bootstrap):
        if asyncio.run(_try_connect(host, port, s, timeout_s)):
            return


async def _try_connect(host: str, port: int, s: KafkaSecurity, timeout_s: float) -> bool:
    """True when connected and authenticated, False when unreachable; raises KafkaSecurityError when refused."""
    from aiokafka import errors
    from aiokafka.conn import create_conn

    where = f"Kafka at {host}:{port}"
    try:
        conn = await asyncio.wait_for(create_conn(host, port, client_id="interarec-preflight",
                                                  request_timeout_ms=int(timeout_s * 1000), **aiokafka_kwargs(s)),
                                      timeout_s)
    except ssl.SSLCertVerificationError as exc:
        trust = f"INTERAREC_KAFKA_CA_FILE={s.ca_file}" if s.ca_file else "the system trust store"
        raise KafkaSecurityError(f"TLS: {where} presented a certificate not trusted by {trust} "
                                 f"(certificate verify failed: {exc.verify_message})") from None
    except ssl.SSLError as exc:
        raise KafkaSecurityError(f"TLS handshake with {where} failed ({exc.reason or exc}): is it a TLS "
                                 "listener (Strimzi: port 9093)?") from None
    except (errors.SaslAuthenticationFailed, errors.IllegalSaslStateError,
            errors.UnsupportedSaslMechanismError) as exc:
        raise KafkaSecurityError(f"SASL {s.mechanism} login as {s.username!r} refused by {where}: {exc}") from None
    except (TimeoutError, OSError, errors.KafkaError):
        return False
    conn.close()
    return True
