"""Visitor session id: `?session=<id>` wins (and is remembered in a cookie), then the cookie, else a new id."""

from __future__ import annotations

import re
import secrets

COOKIE = "interarec_session"
COOKIE_MAX_AGE_S = 7 * 24 * 3600
_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def valid_session_id(value: str | None) -> bool:
    return bool(value) and bool(_VALID.match(value))


def resolve_session(query_value: str | None, cookie_value: str | None) -> tuple[str, bool]:
    """(session id, whether the cookie must be (re)set)."""
    if valid_session_id(query_value):
        return query_value, query_value != cookie_value
    if valid_session_id(cookie_value):
        return cookie_value, False
    return secrets.token_hex(8), True
