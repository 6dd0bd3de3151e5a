"""Certificates and SCRAM credentials for the test broker's SASL_SSL listener, made with openssl: a cluster CA
(as Strimzi's <cluster>-cluster-ca-cert), the broker's PKCS12 keystore signed by it for 127.0.0.1/localhost,
and a second CA that signed nothing the broker presents (the "untrusted CA" case)."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRAM_USER = "interarec-test"


@dataclass(frozen=True)
class KafkaTls:
    ca_file: Path  # PEM of the CA that signed the broker's certificate
    foreign_ca_file: Path  # PEM of an unrelated CA
    keystore: Path  # PKCS12 for the broker
    keystore_password: str = field(repr=False)
    username: str = SCRAM_USER
    password: str = field(default="", repr=False)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _ca(directory: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=directory)


def make_kafka_tls(directory: Path) -> KafkaTls:
    directory.mkdir(parents=True, exist_ok=True)
    _ca(directory, "cluster-ca")
    _ca(directory, "foreign-ca")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", "/CN=localhost",
             "-keyout", "broker.key", "-out", "broker.csr", cwd=directory)
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "cluster-ca.crt", "-CAkey", "cluster-ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "san.ext", "-out", "broker.crt", cwd=directory)
    keystore_password = secrets.token_hex(12)
    _openssl("pkcs12", "-export", "-in", "broker.crt", "-inkey", "broker.key", "-certfile", "cluster-ca.crt",
             "-name", "broker", "-out", "broker.p12", "-passout", f"pass:{keystore_password}", cwd=directory)
    return KafkaTls(ca_file=directory / "cluster-ca.crt", foreign_ca_file=directory / "foreign-ca.crt",
                    keystore=directory / "broker.p12", keystore_password=keystore_password,
                    password=secrets.token_urlsafe(18).replace("-", "x").replace("_", "y"))
