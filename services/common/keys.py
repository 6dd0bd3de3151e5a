"""Kafka keys and table keys: everything a session produces belongs to one tenant, so the tenant is part
of every key. Session ids never contain '/', tenants are checked here, so the key splits unambiguously."""

from __future__ import annotations

import re

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SEPARATOR = "/"


def check_tenant(tenant: str) -> str:
    if not TENANT_RE.match(tenant):
        raise ValueError(f"tenant {tenant!r} must be 1-32 characters of lower-case letters, digits, '_' or '-'")
    return tenant


def session_key(tenant: str, session_id: str) -> str:
    """The key of a session in every topic and table: '<tenant>/<session_id>'."""
    return f"{tenant}{SEPARATOR}{session_id}"


def split_session_key(key: str) -> tuple[str, str]:
    tenant, sep, session_id = key.partition(SEPARATOR)
    if not sep or not tenant or not session_id:
        raise ValueError(f"not a tenant/session key: {key!r}")
    return tenant, session_id
