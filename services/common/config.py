"""Environment-only configuration, validated at start-up with messages a user can act on."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what it accepts."""


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name}={value} is outside the allowed range [{minimum}, {maximum}]")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name}={value} is outside the allowed range [{minimum}, {maximum}]")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def kafka_bootstrap() -> str:
    """INTERAREC_KAFKA_BOOTSTRAP_SERVERS, else KAFKA_BOOTSTRAP_SERVERS, else the local broker; checked to be a
    list of host:port, so a typo stops the process with its name rather than a client retrying forever."""
    name = "INTERAREC_KAFKA_BOOTSTRAP_SERVERS" if os.environ.get("INTERAREC_KAFKA_BOOTSTRAP_SERVERS", "").strip() \
        else "KAFKA_BOOTSTRAP_SERVERS"
    value = env_str("INTERAREC_KAFKA_BOOTSTRAP_SERVERS", env_str("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"))
    bootstrap_addresses(value, name)
    return value


def bootstrap_addresses(bootstrap: str, name: str = "INTERAREC_KAFKA_BOOTSTRAP_SERVERS") -> list[tuple[str, int]]:
    """The (host, port) pairs of a comma-separated bootstrap list. As in every Kafka client, the port defaults
    to 9092 and an IPv6 host is written in brackets ([::1]:9092)."""
    addresses = []
    for server in filter(None, (part.strip() for part in bootstrap.split(","))):
        host, _, port = server.rpartition(":") if server.rfind(":") > server.rfind("]") else (server, "", "9092")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}={bootstrap!r}: {server!r} is not host:port")
        addresses.append((host.strip("[]"), int(port)))
    if not addresses:
        raise ConfigError(f"{name}={bootstrap!r} names no broker")
    return addresses


def var_dir() -> Path:
    """Git-ignored working folder for provisioned tools, the generated catalog and run state."""
    return Path(env_str("INTERAREC_VAR_DIR", str(REPO_ROOT / "var")))


def catalog_path() -> Path:
    return Path(env_str("INTERAREC_CATALOG_PATH", str(var_dir() / "catalog" / "catalog.parquet")))
