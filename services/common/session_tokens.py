"""Browser session tokens, shared by the storefront API (SSE, feedback) and the gateway (frames) (pure: the
clock is passed in).

A session token lets a shopper's browser read recommendations, send feedback and send frames for exactly
one session of one tenant for a few minutes, so the tenant's API key never reaches the browser. It is minted
by the shop's backend (server to server, with the API key) and is `v1.<payload>.<signature>`: base64url JSON {t, s, e}
(tenant, session, expiry unix seconds), signed with HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from services.common import config

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


def parse_token_secret(raw: str) -> bytes | None:
    """The one check of INTERAREC_STOREFRONT_TOKEN_SECRET (the storefront mints with it, the gateway checks
    with it): None when unset, else at least 32 characters."""
    if not raw:
        return None
    if len(raw) < 32:
        raise config.ConfigError("INTERAREC_STOREFRONT_TOKEN_SECRET must be at least 32 characters")
    return raw.encode()


def token_secret_from_env() -> bytes | None:
    """The signing secret both services share (INTERAREC_STOREFRONT_TOKEN_SECRET), or None when unset."""
    return parse_token_secret(config.env_str("INTERAREC_STOREFRONT_TOKEN_SECRET", ""))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
