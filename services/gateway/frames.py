"""Pure frame validation and re-encoding: every accepted frame leaves as a JPEG of at most 1 MiB."""

from __future__ import annotations

import hashlib
import io
import re
from collections import OrderedDict, deque
from dataclasses import dataclass

from PIL import Image

from services.common.images import ImageDecodeError, decode_image

ALLOWED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
MAX_FRAME_BYTES = 1024 * 1024
MIN_SIDE = 64
MAX_SIDE = 4096
JPEG_QUALITY = 85
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class FrameRejected(Exception):
    """The request cannot become a frame; `status` is the HTTP status, `code` a stable machine-readable reason."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class EncodedFrame:
    image: bytes
    mime_type: str
    width: int
    height: int
    sha256: str


def check_session_id(session_id: str) -> None:
    if not SESSION_ID_RE.match(session_id):
        raise FrameRejected(400, "bad_session_id",
                            "session id must be 1-64 characters of letters, digits, '.', '_' or '-'")


def reencode(data: bytes, content_type: str) -> EncodedFrame:
    """Decode, check and re-encode an uploaded screenshot. Raises FrameRejected with a clear reason."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ALLOWED_TYPES:
        raise FrameRejected(415, "unsupported_media_type",
                            f"Content-Type {media_type or '(none)'!r} is not one of {', '.join(ALLOWED_TYPES)}")
    if not data:
        raise FrameRejected(400, "empty_body", "the request body is empty; send the image bytes as the body")
    try:
        rgb = decode_image(data, expected_format=ALLOWED_TYPES[media_type], max_side=MAX_SIDE, min_side=MIN_SIDE,
                           max_pixels=MAX_SIDE * MAX_SIDE)
    except ImageDecodeError as exc:
        raise FrameRejected(exc.status, exc.code, str(exc)) from None

    out = _jpeg(rgb)
    # Rare (huge, noisy screenshots): shrink until the re-encoded frame fits the topic's size budget.
    while len(out) > MAX_FRAME_BYTES:
        scale = (MAX_FRAME_BYTES / len(out)) ** 0.5 * 0.9
        rgb = rgb.resize((max(MIN_SIDE, int(rgb.width * scale)), max(MIN_SIDE, int(rgb.height * scale))))
        out = _jpeg(rgb)
    return EncodedFrame(out, "image/jpeg", rgb.width, rgb.height, hashlib.sha256(out).hexdigest())


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


class DuplicateFilter:
    """Remembers the last few body hashes per session (bounded LRU over sessions) to drop exact repeats.

    A shopper dwelling on a page produces identical screenshots; forwarding them would only cost
    bandwidth and OCR time. Near-duplicates are the summarizer's job (perceptual hash)."""

    def __init__(self, per_session: int = 8, max_sessions: int = 10_000):
        self.per_session = per_session
        self.max_sessions = max_sessions
        self._seen: OrderedDict[str, deque[str]] = OrderedDict()

    def seen(self, session_id: str, digest: str) -> bool:
        recent = self._seen.get(session_id)
        if recent is not None:
            self._seen.move_to_end(session_id)
            return digest in recent
        return False

    def remember(self, session_id: str, digest: str) -> None:
        recent = self._seen.get(session_id)
        if recent is None:
            recent = self._seen[session_id] = deque(maxlen=self.per_session)
            if len(self._seen) > self.max_sessions:
                self._seen.popitem(last=False)
        self._seen.move_to_end(session_id)
        recent.append(digest)


def body_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
