"""Image query with the embedded backend (CPU): a product photo or a screenshot -> OptimizationRequest.

OCR (Tesseract) grounded in the catalog by the summarizer's Grounder recognises a product page or a
product's title; the image's dominant foreground colour is matched to the catalog's colour names. A
recognised product becomes an item-to-item request (plus the colour as a preference); otherwise the
words read and the colour become a typed-query request. Blocking: call it off the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from interarec.v1 import optimization_pb2
from services.core.reading.grounding import Grounder
from services.core.reading.ocr import OcrError, ocr_lines
from services.core.reading.profile import load_profile
from services.storefront_api.queries import similar_request, text_request

BACKGROUND_DISTANCE = 40.0  # RGB distance from the border colour below which a pixel is background
COLOUR_PREFERENCE_WEIGHT = 0.8


@dataclass(frozen=True)
class ImageMatch:
    request: optimization_pb2.OptimizationRequest
    product_id: str | None
    colour: str | None
    words: list[str]


def dominant_colour(image: Image.Image, catalog_colours: list[str],
                    palette: Mapping[str, tuple[int, int, int]] | None = None) -> str | None:
    """The catalog colour nearest the median foreground pixel (foreground: far from the border colour). The
    reference colours are the shop profile's (`colours`, what the reader reads pictures with), so a photo
    and a screenshot of the same product name the same colour; catalog colours the palette lacks are skipped."""
    reference = {name.casefold(): rgb for name, rgb in (load_profile().colours if palette is None else palette).items()}
    small = np.asarray(image.convert("RGB").resize((64, 64)), dtype=float).reshape(-1, 3)
    grid = small.reshape(64, 64, 3)
    border = np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]])
    background = np.median(border, axis=0)
    fg = small[np.linalg.norm(small - background, axis=1) > BACKGROUND_DISTANCE]
    if fg.shape[0] < 0.02 * small.shape[0]:
        fg = small  # a flat image: its colour is the colour
    centre = np.median(fg, axis=0)
    candidates = [(c, reference[c.casefold()]) for c in catalog_colours if c.casefold() in reference]
    if not candidates:
        return None
    return min(candidates, key=lambda item: float(np.linalg.norm(centre - np.array(item[1]))))[0]


def image_request(grounder: Grounder, image: Image.Image, k: int, tenant: str, tesseract: str = "") -> ImageMatch:
    """`grounder`: the storefront's one, built once over its catalog and shop profile (INTERAREC_SHOP_PROFILE);
    `image`: decoded (common.images.decode_image); `tesseract`: the binary, else the one on PATH."""
    catalog = grounder.catalog
    colour = dominant_colour(image, catalog.colours, grounder.profile.colours)
    try:
        lines = ocr_lines(image, tesseract=tesseract)
    except OcrError:
        lines = []  # no text readable: the colour alone still answers
    obs = grounder.observe(lines, session=None)  # one image: no other query's page layout applies
    product_id = obs.product_id
    if product_id is None:  # a photo or a card: a title line alone may name the product
        for line in lines:
            idx, score, margin = grounder.match_title(line.text)
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
