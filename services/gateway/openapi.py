"""OpenAPI documentation of the gateway's routes (the frame body is read raw, so FastAPI cannot infer it)."""

from __future__ import annotations

_ERROR = {"application/json": {"schema": {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
    "example": {"error": {"code": "unsupported_media_type", "message": "content type text/plain is not allowed"}}}}}


def _error(description: str) -> dict:
    return {"description": description, "content": _ERROR}


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
        200: {"description": "an exact repeat of a recent frame: dropped", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"status": {"const": "duplicate"},
                                                        "frame_seq": {"type": "integer"}}}}}},
        202: {"description": "acknowledged by Kafka", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"status": {"const": "accepted"}, "frame_seq": {"type": "integer"},
                                             "partition": {"type": "integer"}, "offset": {"type": "integer"},
                                             "bytes": {"type": "integer"}}},
            "example": {"status": "accepted", "frame_seq": 7, "partition": 2, "offset": 1041, "bytes": 48211}}}},
        400: _error("bad session id, header, empty or undecodable body, image too small"),
        401: _error("missing or unknown X-API-Key; missing, malformed, tampered or expired session token"),
        403: _error("session token for another session, origin not configured for the tenant, or an API key "
                    "sent from a browser"),
        413: _error("body over the upload limit or image over 4096 px"),
        415: _error("content type not allowed, or the body is not of the declared type"),
        429: {**_error("too busy (or over a rate limit): retry after Retry-After seconds"),
              "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
        503: _error("Kafka unavailable: nothing was written"),
    },
}
