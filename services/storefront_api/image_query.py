"""Image query with the embedded backend (CPU): a product photo or a screenshot -> OptimizationRequest.

OCR (Tesseract) grounded in the catalog by the summarizer's Grounder recognises a product page or a
product's title; the image's dominant foreground colour is matched to the catalog's colour names. A
recognised product becomes an item-to-item request (plus the colour as a preference); otherwise the
words read and the colour become a typed-query request. Blocking: call it off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from interarec.v1 import optimization_pb2
from services.common.catalog import Catalog
from services.common.images import decode_image
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrError, ocr_lines
from services.storefront_api.queries import similar_request, text_request

# Reference RGB of plain colour words (a catalog's colours are words; only those present are used).
COLOUR_RGB = {
    "black": (30, 30, 32), "white": (236, 236, 232), "red": (200, 40, 45), "blue": (40, 100, 200),
    "green": (50, 140, 70), "navy": (25, 40, 90), "grey": (130, 132, 136), "gray": (130, 132, 136),
    "brown": (120, 80, 45), "beige": (215, 195, 160), "orange": (235, 130, 30), "yellow": (235, 200, 40),
    "purple": (120, 60, 150), "pink": (230, 130, 170),
}
BACKGROUND_DISTANCE = 40.0  # RGB distance from the border colour below which a pixel is background
COLOUR_PREFERENCE_WEIGHT = 0.8


@dataclass(frozen=True)
class ImageMatch:
    request: optimization_pb2.OptimizationRequest
    product_id: str | None
    colour: str | None
    words: list[str]


def dominant_colour(image: Image.Image, catalog_colours: list[str]) -> str | None:
    """The catalog colour nearest the median foreground pixel (foreground: far from the border colour)."""
    small = np.asarray(image.convert("RGB").resize((64, 64)), dtype=float).reshape(-1, 3)
    grid = small.reshape(64, 64, 3)
    border = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    background = np.median(border, axis=0)
    fg = small[np.linalg.norm(small - background, axis=1) > BACKGROUND_DISTANCE]
    if fg.shape[0] < 0.02 * small.shape[0]:
        fg = small  # a flat image: its colour is the colour
    centre = np.median(fg, axis=0)
    palette = [(c, COLOUR_RGB[c.casefold()]) for c in catalog_colours if c.casefold() in COLOUR_RGB]
    if not palette:
        return None
    return min(palette, key=lambda item: float(np.linalg.norm(centre - np.array(item[1]))))[0]


def image_request(catalog: Catalog, data: bytes, k: int, tenant: str) -> ImageMatch:
    """Raises common.images.ImageDecodeError for bytes that are not an image."""
    image = decode_image(data)
    colour = dominant_colour(image, catalog.colours)
    try:
        lines = ocr_lines(image)
    except OcrError:
        lines = []  # no text readable: the colour alone still answers
    obs = Grounder(catalog).observe(lines)
    product_id = obs.product_id
    if product_id is None:  # a photo or a card: a title line alone may name the product
        for line in lines:
            idx, score, margin = Grounder(catalog).match_title(line.text)
            if idx is not None and score >= 90 and margin >= 3:
                product_id = catalog.products[idx].product_id
                break
    words = [ln.text for ln in lines if ln.conf >= 50][:20]
    if product_id is not None:
        request = similar_request(catalog, catalog.by_id[product_id], k, tenant)
        request.session_id = "query:image"
    else:
        request, _ = text_request(catalog, " ".join(words), k, tenant)
        request.session_id = "query:image"
        request.summary.narrative = "Image query: " + (" ".join(words)[:200] or "no text read")
    if colour is not None:
        for term in request.preferences.colours:
            if term.value == colour:
                term.weight = max(term.weight, COLOUR_PREFERENCE_WEIGHT)
                break
        else:
            request.preferences.colours.add(value=colour, weight=COLOUR_PREFERENCE_WEIGHT)
        if product_id is None and not request.constraints.colours:
            request.constraints.colours.append(colour)  # the colour is the clearest signal a photo gives
    request.backend = "embedded-image"
    return ImageMatch(request, product_id, colour, words)
