"""Who may post frames: a tenant's API key (server-side capture, never from a browser) or a browser session
token for exactly the session in the path, sent from one of the tenant's configured origins (CORS).

Pure apart from the clock, which callers pass in; the HTTP wiring is in dependencies.py."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.keys import session_key
from services.common.ratelimit import RateLimiter
from services.common.session_tokens import SessionTokens, TokenError, bearer_token
from services.common.tenants import ApiKeys, TenantOrigins
from services.gateway.frames import FrameRejected

# What the capture script sends cross-origin (preflighted), and what it must be able to read back.
ALLOWED_HEADERS = "Authorization, Content-Type, X-Frame-Seq, X-Capture-Time, X-Page-Url, X-Page-Title"
EXPOSED_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE_S = "600"


@dataclass(frozen=True)
class Caller:
    tenant: str
    token_key: str | None  # tenant/session of a browser token (its own rate limit); None for an API key


class FrameAuth:
    """Decides who a frame request is from; raises FrameRejected (401/403) with a clear reason."""

    def __init__(self, api_keys: ApiKeys, tokens: SessionTokens | None, origins: TenantOrigins):
        self.api_keys = api_keys
        self.tokens = tokens
        self.origins = origins

    def authenticate(self, session_id: str, headers, now_s: float) -> Caller:
        """headers: a case-insensitive mapping (Starlette's request.headers)."""
        origin = headers.get("origin")
        api_key = headers.get("x-api-key")
        if api_key:
            tenant = self.api_keys.tenant_for(api_key)
            if tenant is None:
                raise FrameRejected(401, "unauthorized", "unknown X-API-Key")
            if origin:  # a key inside a web page is a leaked key: browsers must use session tokens
                raise FrameRejected(403, "forbidden", "X-API-Key is for server-side capture; browsers send "
                                                      "Authorization: Bearer <session token>")
            return Caller(tenant, None)
        token = bearer_token(headers.get("authorization"))
        if token is None:
            raise FrameRejected(401, "unauthorized", "send X-API-Key (server side) or Authorization: Bearer "
                                                     "<session token> (browser)")
        if self.tokens is None:
            raise FrameRejected(401, "unauthorized", "browser session tokens are not enabled on this gateway")
        try:
            tenant, token_session = self.tokens.verify(token, now_s)
        except TokenError as exc:
            raise FrameRejected(401, "unauthorized", str(exc)) from None
        if token_session != session_id:
            raise FrameRejected(403, "forbidden", "this session token is for another session")
        if origin and not self.origins.allows(tenant, origin):
            raise FrameRejected(403, "forbidden", f"origin {origin[:200]!r} is not configured for this tenant")
        return Caller(tenant, session_key(tenant, session_id))

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        """Headers letting a known shop origin read the answer (errors included: the script backs off on
        429/503 by Retry-After). An unknown origin gets none, so its page cannot read anything."""
        if not origin or not self.origins.known(origin):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS,
                "Vary": "Origin"}

    def preflight_headers(self, origin: str | None, method: str | None) -> dict[str, str] | None:
        """CORS preflight answer for a known origin asking to POST, else None (refused); the origin headers
        themselves are added to every answer by dependencies.FrameCors."""
        if method != "POST" or not self.cors_headers(origin):
            return None
        return {"Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_S}


class TokenLimits:
    """Frames per second per browser token, on top of the tenant's limit: one tab cannot use a tenant's share."""

    MAX_TRACKED = 100_000  # sessions; beyond it the buckets start afresh (memory bounded, limits briefly lax)

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.limiter = RateLimiter(rate, burst)
        self.tracked: set[str] = set()

    def acquire(self, caller: Caller, now: float) -> float:
        if caller.token_key is None:
            return 0.0
        if caller.token_key not in self.tracked and len(self.tracked) >= self.MAX_TRACKED:
            self.limiter, self.tracked = RateLimiter(self.rate, self.burst), set()
        self.tracked.add(caller.token_key)
        return self.limiter.acquire(caller.token_key, now)
