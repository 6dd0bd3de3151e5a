"""One colour palette: the storefront's image query and the reader's picture colour both name colours from
the shop profile's `colours` (services/core/reading/profiles/default.json, overlaid by INTERAREC_SHOP_PROFILE)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from services.core.reading.profile import load_profile
from services.core.reading.reader import Box, picture_colour
from services.storefront_api import image_query
from services.storefront_api.app import StorefrontSettings

PALETTE = load_profile().colours


def product_picture(rgb: tuple[int, int, int]) -> Image.Image:
    """A product photo as shops show it: the object in its colour on a light backdrop."""
    image = Image.new("RGB", (200, 200), (248, 248, 246))
    ImageDraw.Draw(image).ellipse((40, 30, 160, 170), fill=rgb)
    return image


@pytest.mark.parametrize("name", sorted(PALETTE))
def test_the_image_query_and_the_reader_name_every_palette_colour_alike(name: str) -> None:
    image = product_picture(PALETTE[name])
    by_query = image_query.dominant_colour(image, list(PALETTE))
    by_reader = picture_colour(np.asarray(image), Box(0, 0, 200, 200), PALETTE)
    assert by_query == by_reader == name


def test_a_shop_profile_colour_reaches_both(tmp_path, monkeypatch) -> None:
    profile = tmp_path / "shop.json"
    profile.write_text(json.dumps({"colours": {**{k: list(v) for k, v in PALETTE.items()}, "Teal": [0, 128, 128]}}))
    monkeypatch.setenv("INTERAREC_SHOP_PROFILE", str(profile))
    monkeypatch.setenv("INTERAREC_DEMO_MODE", "1")  # the storefront's settings also need its keys
    image = product_picture((0, 128, 128))
    palette = StorefrontSettings.from_env().shop_profile.colours
    assert image_query.dominant_colour(image, ["Teal", "Green", "Blue"], palette) == "Teal"
    assert picture_colour(np.asarray(image), Box(0, 0, 200, 200), palette) == "Teal"
    assert not hasattr(image_query, "COLOUR_RGB")  # no second palette left in the storefront
