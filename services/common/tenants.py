"""Per-tenant API keys, stored hashed, shared by the gateway and the storefront API.

Keys are random high-entropy tokens, so an unsalted SHA-256 is enough to keep them out of config files and
logs: nobody can brute-force a 128-bit token from its hash. Configuration, one `tenant:sha256$<hex>` entry
per line (file) or per comma (variable):

- INTERAREC_API_KEYS_FILE: a file of entries ('#' starts a comment);
- INTERAREC_API_KEYS: entries separated by commas;
- INTERAREC_DEMO_MODE=1: additionally accept the well-known key `demo-key` for tenant `demo` (make run).

No key is accepted by default: without any entry and without demo mode the services refuse to start.
`python -m services.common.tenants new <tenant>` prints a fresh key and the entry to configure.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from services.common import config
from services.common.keys import check_tenant

DEMO_TENANT = "demo"
DEMO_KEY = "demo-key"
HASH_PREFIX = "sha256$"


def hash_key(key: str) -> str:
    return HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def demo_mode() -> bool:
    return config.env_choice("INTERAREC_DEMO_MODE", "0", ("0", "1")) == "1"


def _parse_entry(entry: str, source: str) -> tuple[str, str]:
    tenant, sep, digest = entry.strip().partition(":")
    if not sep or not digest.startswith(HASH_PREFIX):
        raise config.ConfigError(
            f"{source}: entries must be 'tenant:sha256$<64 hex>' (keys are stored hashed, never in plain text; "
            "`python -m services.common.tenants hash <key>` prints the hash)")
    hexpart = digest.removeprefix(HASH_PREFIX)
    if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise config.ConfigError(f"{source}: the hash of tenant {tenant!r} is not 64 lower-case hex digits")
    try:
        check_tenant(tenant)
    except ValueError as exc:
        raise config.ConfigError(f"{source}: {exc}") from None
    return tenant, digest


@dataclass(frozen=True)
class ApiKeys:
    """Maps a presented key to its tenant by hash; the plain keys are never kept."""

    by_hash: dict[str, str]  # "sha256$<hex>" -> tenant

    def tenant_for(self, key: str | None) -> str | None:
        if not key:
            return None
        return self.by_hash.get(hash_key(key))

    @property
    def tenants(self) -> set[str]:
        return set(self.by_hash.values())

    @classmethod
    def from_plain(cls, keys: dict[str, str]) -> ApiKeys:
        """{key: tenant}, hashed on the way in (for tests and tools)."""
        return cls({hash_key(k): check_tenant(t) for k, t in keys.items()})

    @classmethod
    def parse(cls, entries: list[tuple[str, str]], demo: bool) -> ApiKeys:
        """entries: (text, where it came from)."""
        by_hash: dict[str, str] = {}
        for text, source in entries:
            if text.strip():
                tenant, digest = _parse_entry(text, source)
                if by_hash.get(digest, tenant) != tenant:
                    raise config.ConfigError(f"{source}: one key is configured for two tenants")
                by_hash[digest] = tenant
        if demo:
            by_hash.setdefault(hash_key(DEMO_KEY), DEMO_TENANT)
        if not by_hash:
            raise config.ConfigError(
                "no API keys configured: set INTERAREC_API_KEYS_FILE or INTERAREC_API_KEYS "
                "('tenant:sha256$<hex>' entries), or INTERAREC_DEMO_MODE=1 for the demo key")
        return cls(by_hash)

    @classmethod
    def from_env(cls) -> ApiKeys:
        entries: list[tuple[str, str]] = []
        path = config.env_str("INTERAREC_API_KEYS_FILE", "")
        if path:
            try:
                lines = Path(path).read_text().splitlines()
            except OSError as exc:
                raise config.ConfigError(f"INTERAREC_API_KEYS_FILE={path!r} cannot be read: {exc}") from None
            entries += [(ln.split("#", 1)[0], f"INTERAREC_API_KEYS_FILE line {i}") for i, ln in enumerate(lines, 1)]
        raw = os.environ.get("INTERAREC_API_KEYS", "")
        entries += [(part, "INTERAREC_API_KEYS") for part in raw.split(",")]
        return cls.parse(entries, demo_mode())


@dataclass(frozen=True)
class TenantOrigins:
    """The web origins each tenant's shop pages are served from: the only origins whose browsers may post
    frames with that tenant's session tokens (CORS at the gateway).

    INTERAREC_TENANT_ORIGINS: `tenant=origin` entries separated by commas, a tenant repeated for several
    origins, e.g. `acme=https://shop.acme.com,acme=https://www.acme.com`. Empty: no browser may post."""

    by_tenant: dict[str, frozenset[str]]

    def allows(self, tenant: str, origin: str) -> bool:
        return origin in self.by_tenant.get(tenant, frozenset())

    def known(self, origin: str) -> bool:
        """Whether any tenant serves pages from this origin (answering a CORS preflight, before any token)."""
        return any(origin in origins for origins in self.by_tenant.values())

    @classmethod
    def parse(cls, raw: str, source: str = "INTERAREC_TENANT_ORIGINS") -> TenantOrigins:
        found: dict[str, set[str]] = {}
        for entry in raw.split(","):
            if not entry.strip():
                continue
            tenant, sep, origin = entry.strip().partition("=")
            origin = origin.strip().rstrip("/")
            if not sep or not origin.startswith(("http://", "https://")) or "/" in origin.split("://", 1)[1]:
                raise config.ConfigError(f"{source}: entries must be 'tenant=https://host[:port]', got {entry!r}")
            try:
                check_tenant(tenant.strip())
            except ValueError as exc:
                raise config.ConfigError(f"{source}: {exc}") from None
            found.setdefault(tenant.strip(), set()).add(origin)
        return cls({t: frozenset(o) for t, o in found.items()})


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "hash":
        print(hash_key(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "new":
        key = secrets.token_urlsafe(32)
        print(f"key (give to the tenant, store nowhere else): {key}")
        print(f"entry for INTERAREC_API_KEYS(_FILE): {check_tenant(argv[1])}:{hash_key(key)}")
        return 0
    print("usage: python -m services.common.tenants new <tenant> | hash <key>", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
