"""OpenAPI documentation of the frames route: the body is read raw and the credentials are checked before it
(dependencies.admit, in the plain ASGI upload), so FastAPI cannot infer the headers or the body from the
signature."""

from __future__ import annotations

from services.common.http_errors import error_responses
from services.gateway.models import FrameDuplicate

_HEADERS = [
    {"name": "X-API-Key", "in": "header", "schema": {"type": "string"},
     "description": "the tenant's API key (server-side capture only; refused with an Origin header)"},
    {"name": "Authorization", "in": "header", "schema": {"type": "string"},
     "description": "`Bearer <session token>` minted by the shop's backend for this session (browser capture)"},
    {"name": "X-Frame-Seq", "in": "header", "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
    {"name": "X-Capture-Time", "in": "header", "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
     "description": "capture time, unix ms"},
    {"name": "X-Page-Url", "in": "header", "schema": {"type": "string"}},
    {"name": "X-Page-Title", "in": "header", "schema": {"type": "string"}},
]

FRAMES = {
    "summary": "Upload one viewport screenshot of a shopper's session",
    "openapi_extra": {
        "parameters": _HEADERS,
        "requestBody": {"required": True, "content": {
            m: {"schema": {"type": "string", "format": "binary"}} for m in ("image/jpeg", "image/png", "image/webp")}},
    },
    "responses": {
        200: {"model": FrameDuplicate, "description": "an exact repeat of a recent frame: dropped"},
        202: {"description": "acknowledged by Kafka"},
        **error_responses(400, 401, 403, 413, 415, 429, 503, text={
            400: "bad session id, header, empty or undecodable body, image too small",
            401: "missing or unknown X-API-Key; missing, malformed, tampered or expired session token",
            403: "session token for another session, origin not configured for the tenant, or an API key sent "
                 "from a browser",
            413: "body over the upload limit or image over 4096 px",
            415: "content type not allowed, or the body is not of the declared type",
            429: "over a rate limit (`rate_limited`), over the tenant's share of the gateway (`too_busy`) or the "
                 "pipeline behind (`pipeline_behind`): send again (the newest frame) after Retry-After seconds",
            503: "Kafka unavailable: nothing was written"}),
    },
}
