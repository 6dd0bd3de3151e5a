"""Kafka keys and table keys: everything a session produces belongs to one tenant, so the tenant is part
of every key. Session ids never contain '/', tenants are checked here, so the key splits unambiguously."""

from __future__ import annotations

import re

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SEPARATOR = "/"
# Session ids at every entry (gateway, storefront, demo shop): no dots ('.' and '..' are path segments), no
# '/', nothing after the last character (Python's `$` would let a final newline through: fullmatch only).
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # for OpenAPI / pydantic, whose `$` is the end of the text
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
SESSION_ID_RULE = "1-64 characters of letters, digits, '_' or '-'"


def valid_session_id(session_id: str | None) -> bool:
    return session_id is not None and SESSION_ID_RE.fullmatch(session_id) is not None


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
