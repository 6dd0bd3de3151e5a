"""The one image decoder of every route and stage that reads an uploaded picture (gateway frames, the
storefront's image query, the summarizer's frames): JPEG, PNG or WebP only, dimensions checked from the
header before any pixel is decoded, decompression bombs refused, truncated data refused after the load.
Each refusal carries the HTTP status a route answers with (413 too large, 415 wrong type, 400 otherwise).

jpeg_structure() is the gateway's fast check of a JPEG without decoding a pixel (header, segment structure,
dimensions, end-of-image marker), which also drops metadata segments (EXIF, XMP, ICC, comments)."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_DECODE_PIXELS = 16_000_000  # far above any viewport (4096 x 3906); a bomb is refused from its header


class ImageDecodeError(ValueError):
    """The bytes are not an acceptable JPEG, PNG or WebP image."""

    status = 400
    code = "undecodable_image"


class ImageTooLarge(ImageDecodeError):
    status = 413
    code = "image_too_large"


class ImageTooSmall(ImageDecodeError):
    code = "image_too_small"


class ImageFormatMismatch(ImageDecodeError):
    status = 415
    code = "content_type_mismatch"


def check_size(width: int, height: int, *, max_pixels: int, max_side: int | None, min_side: int) -> None:
    """Dimensions read from a header, before any pixel is decoded: a bomb is 413, a speck 400."""
    if width * height > max_pixels or (max_side is not None and max(width, height) > max_side):
        limit = f"the {max_side}px limit per side" if max_side is not None else f"{max_pixels} pixels"
        raise ImageTooLarge(f"{width}x{height} exceeds {limit}")
    if min(width, height) < min_side:
        raise ImageTooSmall(f"{width}x{height} is below {min_side}px per side")


def decode_image(data: bytes, *, expected_format: str | None = None, max_pixels: int = MAX_DECODE_PIXELS,
                 max_side: int | None = None, min_side: int = 1, draft: bool = False) -> Image.Image:
    """Decode bytes into an RGB image, or raise an ImageDecodeError subclass saying why not. draft: a JPEG is
    decoded at 1/8 scale (libjpeg's DCT scaling still reads every coded block, so truncated or corrupt data
    is refused all the same, at about a third of the cost): for validating, not for reading."""
    if not data:
        raise ImageDecodeError("empty image payload")
    try:
        with warnings.catch_warnings():  # Pillow only warns between 1x and 2x its own pixel bound
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge("image has too many pixels") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"not a recognised image ({len(data)} bytes)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # a header cut short or malformed
        raise ImageDecodeError(f"corrupt image header: {exc}") from None
    if expected_format is not None and image.format != expected_format:
        raise ImageFormatMismatch(f"the body is {image.format} but its Content-Type says {expected_format}")
    if image.format not in ALLOWED_FORMATS:
        raise ImageDecodeError(f"image format {image.format} not accepted; expected one of {ALLOWED_FORMATS}")
    width, height = image.size
    check_size(width, height, max_pixels=max_pixels, max_side=max_side, min_side=min_side)
    if draft and image.format == "JPEG":
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated data surfaces only on load
        raise ImageDecodeError(f"corrupt {image.format} image: {exc}") from None
    return image.convert("RGB") if image.mode != "RGB" else image


# --------------------------------------------------------------- JPEG structure, no pixel decoded

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Kept: APP0 (JFIF) and APP14 (Adobe: how to read the colour components). Dropped: the other APPn (EXIF with
# its GPS position and camera serial, XMP, ICC profiles) and COM: a screenshot needs none of them.
KEPT_APP = frozenset({0xE0, 0xEE})
MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"RIFF", "WEBP"), (b"\xff\xd8", "JPEG"))


def sniff_format(data: bytes) -> str | None:
    for magic, fmt in MAGIC:
        if data.startswith(magic) and (fmt != "WEBP" or data[8:12] == b"WEBP"):
            return fmt
    return None


def jpeg_structure(data: bytes, *, max_pixels: int = MAX_DECODE_PIXELS, max_side: int | None = None,
                   min_side: int = 1) -> tuple[int, int, bytes]:
    """(width, height, the JPEG without metadata segments) from its markers alone, or an ImageDecodeError
    subclass: not a JPEG (415 if it is a PNG or WebP), segments running past the end, no frame header or
    scan, dimensions out of bounds (413 for a bomb), or no end-of-image marker (a truncated upload)."""
    if not data:
        raise ImageDecodeError("empty image payload")
    found = sniff_format(data)
    if found != "JPEG":
        if found is not None:
            raise ImageFormatMismatch(f"the body is {found} but its Content-Type says JPEG")
        raise ImageDecodeError(f"not a recognised image ({len(data)} bytes)")
    kept, pos, size, dropped = [data[:2]], 2, None, False
    while True:
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise ImageDecodeError(f"corrupt JPEG: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker in STANDALONE:
            kept.append(data[pos:pos + 2])
            pos += 2
            continue
        if marker in (SOI, EOI):
            raise ImageDecodeError(f"corrupt JPEG: marker {marker:#04x} before the first scan")
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > len(data) or end < pos + 4:
            raise ImageDecodeError("corrupt JPEG: a header segment runs past the end of the data")
        if marker in SOF_MARKERS:
            if end - pos < 10:
                raise ImageDecodeError("corrupt JPEG: frame header too short")
            size = (int.from_bytes(data[pos + 7:pos + 9], "big"), int.from_bytes(data[pos + 5:pos + 7], "big"))
        if marker == SOS:
            break
        if not (0xE0 <= marker <= 0xEF and marker not in KEPT_APP) and marker != 0xFE:
            kept.append(data[pos:end])
        else:
            dropped = True
        pos = end
    if size is None:
        raise ImageDecodeError("corrupt JPEG: a scan before any frame header")
    width, height = size
    check_size(width, height, max_pixels=max_pixels, max_side=max_side, min_side=min_side)
    if not data.endswith(b"\xff\xd9") or len(data) - end < 4:
        raise ImageDecodeError("corrupt JPEG: no end-of-image marker (truncated?)")
    if not dropped:  # nothing to strip (a canvas's JPEG): the data itself, not a copy of a few hundred KB
        return width, height, data
    return width, height, b"".join([*kept, memoryview(data)[pos:]])  # one copy
