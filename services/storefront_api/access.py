"""Browser session tokens and stream slots (pure: clocks are passed in). Rate limits: services/common/ratelimit.py.

A session token lets a shopper's browser read and send feedback for exactly one session of one tenant
for a few minutes, so the tenant's API key never reaches the browser. It is minted by the shop's backend
(server to server, with the API key) and is `v1.<payload>.<signature>`: base64url JSON {t, s, e}
(tenant, session, expiry unix seconds), signed with HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

TOKEN_VERSION = "v1"


class TokenError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionTokens:
    def __init__(self, secret: bytes, ttl_s: int):
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 bytes")
        self._secret = secret
        self.ttl_s = ttl_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, f"{TOKEN_VERSION}.{payload}".encode(), hashlib.sha256).digest())

    def mint(self, tenant: str, session_id: str, now_s: float) -> tuple[str, int]:
        """(token, expiry unix seconds)."""
        expires = int(now_s) + self.ttl_s
        payload = _b64(json.dumps({"t": tenant, "s": session_id, "e": expires}, separators=(",", ":")).encode())
        return f"{TOKEN_VERSION}.{payload}.{self._sign(payload)}", expires

    def verify(self, token: str, now_s: float) -> tuple[str, str]:
        """(tenant, session_id) of a valid, unexpired token; TokenError otherwise."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise TokenError("malformed session token")
        if not hmac.compare_digest(self._sign(parts[1]), parts[2]):
            raise TokenError("session token signature does not match")
        try:
            claims = json.loads(_unb64(parts[1]))
            tenant, session_id, expires = str(claims["t"]), str(claims["s"]), int(claims["e"])
        except (ValueError, KeyError, TypeError):
            raise TokenError("malformed session token") from None
        if now_s >= expires:
            raise TokenError("session token expired")
        return tenant, session_id


class StreamSlots:
    """Concurrent SSE streams per tenant, capped so one tenant cannot exhaust the server's connections."""

    def __init__(self, per_tenant: int):
        self.per_tenant = per_tenant
        self._open: dict[str, int] = {}

    def try_open(self, tenant: str) -> bool:
        if self._open.get(tenant, 0) >= self.per_tenant:
            return False
        self._open[tenant] = self._open.get(tenant, 0) + 1
        return True

    def close(self, tenant: str) -> None:
        left = self._open.get(tenant, 0) - 1
        if left > 0:
            self._open[tenant] = left
        else:
            self._open.pop(tenant, None)

    def open_count(self, tenant: str) -> int:
        return self._open.get(tenant, 0)
