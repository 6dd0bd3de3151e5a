"""Image decoding, perceptual hashing and OCR preparation for screenshots (pure, Pillow only)."""

from __future__ import annotations

from PIL import Image, ImageOps

# The decoder is shared with every HTTP route that reads an image; re-exported for the stages that use it here.
from services.common.images import ALLOWED_FORMATS, MAX_DECODE_PIXELS, ImageDecodeError, decode_image  # noqa: F401

# Hamming distance (of 64) at or below which two frames of the same page URL are the same view. Measured
# on demo-shop pages in Chromium (JPEG q80): a blinking caret 0 bits, focusing and typing in the search
# box 1, scrolling a listing 20 px 4, 40 px 9, 100 px 18. So small jitter is dropped and any scroll that
# reveals new content is read. A dHash sees layout, not text: two product pages of the same template are
# 0-8 bits apart (median 3), which is why the window only deduplicates within one page URL.
NEAR_DUPLICATE_MAX_DISTANCE = 6


def dhash(image: Image.Image, hash_size: int = 8) -> int:
    """Difference hash: 64 bits (hash_size 8) of whether each cell is brighter than its right neighbour.

    Robust to JPEG noise, small brightness shifts and a caret blinking; sensitive to layout and content.
    """
    small = image.convert("L").resize((hash_size + 1, hash_size), Image.Resampling.BOX)
    px = small.tobytes()  # row-major, one byte per pixel
    value = 0
    w = hash_size + 1
    for row in range(hash_size):
        base = row * w
        for col in range(hash_size):
            value = (value << 1) | (px[base + col] > px[base + col + 1])
    return value


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def is_near_duplicate(h: int, recent_hashes: list[int] | tuple[int, ...],
                      max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE) -> bool:
    """True when h is within max_distance bits of any recent hash (the view did not change materially)."""
    return any(hamming(h, r) <= max_distance for r in recent_hashes)


# OCR works on the screenshot at CSS-pixel size: a 1280 px wide viewport, where shop text is 14-36 px tall.
# Measured on 120 demo-shop product pages in Chromium (tesseract 5.3, fast English model, one thread):
# scale 1.0 grounded 120/120 at ~430 ms CPU per frame; 1.25 also 120/120 at ~490 ms; 0.75 lost SKUs and
# was no faster. So: normalise the width to 1280 (a HiDPI 2560 px capture is halved, a small capture is
# enlarged), and cap the pixels because OCR time grows with them.
OCR_TARGET_WIDTH = 1280
OCR_MAX_PIXELS = 1280 * 1024


def ocr_scale(width: int, height: int, target_width: int = OCR_TARGET_WIDTH,
              max_pixels: float = OCR_MAX_PIXELS) -> float:
    scale = min(2.0, max(0.5, target_width / width))
    if width * height * scale * scale > max_pixels:
        scale = (max_pixels / (width * height)) ** 0.5
    return scale


def prepare_for_ocr(image: Image.Image, target_width: int = OCR_TARGET_WIDTH,
                    max_pixels: float = OCR_MAX_PIXELS) -> Image.Image:
    """Grayscale, rescaled so text is the size tesseract reads well, never above max_pixels."""
    gray = ImageOps.grayscale(image)
    w, h = gray.size
    scale = ocr_scale(w, h, target_width, max_pixels)
    if abs(scale - 1.0) > 0.01:
        gray = gray.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    return gray
