"""The one image decoder of every route and stage that reads an uploaded picture (gateway frames, the
storefront's image query, the summarizer's frames): JPEG, PNG or WebP only, dimensions checked from the
header before any pixel is decoded, decompression bombs refused, truncated data refused after the load.
Each refusal carries the HTTP status a route answers with (413 too large, 415 wrong type, 400 otherwise)."""

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


def decode_image(data: bytes, *, expected_format: str | None = None, max_pixels: int = MAX_DECODE_PIXELS,
                 max_side: int | None = None, min_side: int = 1) -> Image.Image:
    """Decode bytes into an RGB image, or raise an ImageDecodeError subclass saying why not."""
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
    if width * height > max_pixels or (max_side is not None and max(width, height) > max_side):
        limit = f"the {max_side}px limit per side" if max_side is not None else f"{max_pixels} pixels"
        raise ImageTooLarge(f"{width}x{height} exceeds {limit}")
    if min(width, height) < min_side:
        raise ImageTooSmall(f"{width}x{height} is below {min_side}px per side")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # truncated data surfaces only on load
        raise ImageDecodeError(f"corrupt {image.format} image: {exc}") from None
    return image.convert("RGB") if image.mode != "RGB" else image
