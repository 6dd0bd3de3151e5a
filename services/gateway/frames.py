"""Pure frame validation: every accepted frame leaves as a JPEG of at most 1 MiB, without metadata.

A JPEG within the size budget (what the capture clients send) is passed through after a check of its
structure (services/common/images.jpeg_structure: type, bounds before any pixel, truncation) with its
metadata segments dropped; with check "decode" it is also decoded at 1/8 scale, which reads every coded block.
Anything else (PNG, WebP, an oversized JPEG) is decoded in full and re-encoded, the slow path."""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict, deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image

from interarec.v1 import frames_pb2
from services.common.images import ImageDecodeError, decode_image, jpeg_structure
from services.common.keys import SESSION_ID_RULE, valid_session_id

ALLOWED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
MAX_FRAME_BYTES = 1024 * 1024
MIN_SIDE = 64
MAX_SIDE = 4096
JPEG_QUALITY = 85
# A capture clock this far ahead of ours is wrong, not skewed: such a time would make the end-to-end
# latency negative (clamped to 0 s), so the frame is refused and counted instead.
MAX_CAPTURE_AHEAD_MS = 5 * 60 * 1000
MAX_PAGE_URL = 2048
PAGE_URL_SCHEMES = ("http", "https")


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
    if not valid_session_id(session_id):
        raise FrameRejected(400, "bad_session_id", f"session id must be {SESSION_ID_RULE}")


def check_capture_time(capture_ms: int, received_ms: int) -> None:
    if capture_ms > received_ms + MAX_CAPTURE_AHEAD_MS:
        raise FrameRejected(400, "capture_time_in_future",
                            f"X-Capture-Time is {(capture_ms - received_ms) / 1000:.0f} s ahead of the gateway's "
                            f"clock (at most {MAX_CAPTURE_AHEAD_MS // 1000} s allowed)")


def check_page_url(url: str) -> str:
    """The page URL as sent, if it is an absolute http(s) URL of printable ASCII; '' when none was sent.
    Anything else (javascript:, data:, file:, control characters) is refused: it travels to the model."""
    if not url:
        return ""
    try:
        parts = urlsplit(url) if url.isascii() and url.isprintable() and " " not in url else None
    except ValueError:  # e.g. a malformed IPv6 host
        parts = None
    if len(url) > MAX_PAGE_URL or parts is None or parts.scheme.lower() not in PAGE_URL_SCHEMES or not parts.netloc:
        raise FrameRejected(400, "bad_page_url",
                            f"X-Page-Url must be an absolute http(s) URL of at most {MAX_PAGE_URL} characters")
    return url


CHECKS = ("structure", "decode")


def media_type_of(content_type: str, data: bytes) -> str:
    """The declared image type, checked before anything else; raises FrameRejected."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ALLOWED_TYPES:
        raise FrameRejected(415, "unsupported_media_type",
                            f"Content-Type {media_type or '(none)'!r} is not one of {', '.join(ALLOWED_TYPES)}")
    if not data:
        raise FrameRejected(400, "empty_body", "the request body is empty; send the image bytes as the body")
    return media_type


def needs_reencode(data: bytes, content_type: str) -> bool:
    """Whether a frame takes the slow path (a full decode and re-encode, on a decode slot)."""
    return content_type.split(";")[0].strip().lower() != "image/jpeg" or len(data) > MAX_FRAME_BYTES


def pass_through(data: bytes, content_type: str, check: str = "structure") -> EncodedFrame:
    """A JPEG within the size budget, checked and without its metadata, not re-encoded. Raises FrameRejected."""
    media_type_of(content_type, data)
    try:
        width, height, image = jpeg_structure(data, max_side=MAX_SIDE, min_side=MIN_SIDE,
                                              max_pixels=MAX_SIDE * MAX_SIDE)
        if check == "decode":
            decode_image(image, expected_format="JPEG", max_side=MAX_SIDE, min_side=MIN_SIDE,
                         max_pixels=MAX_SIDE * MAX_SIDE, draft=True)
    except ImageDecodeError as exc:
        raise FrameRejected(exc.status, exc.code, str(exc)) from None
    return EncodedFrame(image, "image/jpeg", width, height, hashlib.sha256(image).hexdigest())


def reencode(data: bytes, content_type: str) -> EncodedFrame:
    """Decode, check and re-encode an uploaded screenshot. Raises FrameRejected with a clear reason."""
    media_type = media_type_of(content_type, data)
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


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# the image field's key: its number, wire type 2 (length-delimited)
IMAGE_KEY = _varint(frames_pb2.Frame.DESCRIPTOR.fields_by_name["image"].number << 3 | 2)


def frame_record(frame: frames_pb2.Frame, image: bytes) -> bytes:
    """`frame` (without its image) serialized with `image` appended as its image field. Protobuf parsers take
    fields in any order, so every reader sees the same Frame as if image had been set, but the few hundred KB
    are copied once, into this value, instead of into the message and again out of it (0.1-0.2 ms a frame)."""
    return b"".join((frame.SerializeToString(), IMAGE_KEY, _varint(len(image)), image))


def body_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
