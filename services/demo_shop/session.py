"""Visitor session ids: issued by the shop, never chosen by the visitor.

A new visitor gets a random id in a signed cookie (`<id>.<HMAC-SHA256 of the id>`); a cookie whose signature
does not verify is replaced by a new id. A `?session=` in the URL is ignored: honouring it let whoever picked
a visitor's session id read that visitor's recommendations and the narrative of what they viewed (session
fixation), and real shops copy what the demo does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from services.common.keys import valid_session_id

COOKIE = "interarec_session"
COOKIE_MAX_AGE_S = 7 * 24 * 3600
MIN_SECRET_BYTES = 32


def new_session_id() -> str:
    return secrets.token_urlsafe(12)  # 16 characters of [A-Za-z0-9_-], 96 random bits


class SessionCookies:
    def __init__(self, secret: bytes):
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the session cookie secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, session_id: str) -> str:
        digest = hmac.new(self._secret, b"demo-shop-session:" + session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def sign(self, session_id: str) -> str:
        return f"{session_id}.{self._mac(session_id)}"

    def verify(self, cookie_value: str | None) -> str | None:
        """The session id of a cookie this shop signed, else None."""
        session_id, _, mac = (cookie_value or "").partition(".")
        if valid_session_id(session_id) and hmac.compare_digest(mac.encode(), self._mac(session_id).encode()):
            return session_id
        return None

    def resolve(self, cookie_value: str | None) -> tuple[str, bool]:
        """(session id, whether the cookie must be set): the signed cookie's id, else a new one."""
        session_id = self.verify(cookie_value)
        if session_id is not None:
            return session_id, False
        return new_session_id(), True
