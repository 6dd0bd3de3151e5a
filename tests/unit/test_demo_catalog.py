"""The demo catalog generator: deterministic, schema-exact, OCR-friendly names, enough depth per brand."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from services.common.catalog import SCHEMA, Catalog
from services.common.demo_catalog import BRANDS, COLOURS, GENERATOR_VERSION, existing_matches, generate, main

SMALL = 400


@pytest.fixture(scope="module")
def full(catalog_path: Path) -> Path:
    """The default catalog (seed 7, 2400 products): the session's, which `generate` with its defaults wrote
    (a second generation of the same catalog would cost the suite half a minute and check nothing more)."""
    return catalog_path


@pytest.fixture(scope="module")
def catalog(full: Path) -> Catalog:
    return Catalog.load(full)


def test_same_seed_same_content_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = (generate(tmp_path / name, seed=seed, n_products=SMALL) for name, seed in
               (("a", 7), ("b", 7), ("c", 8)))
    assert pq.read_table(a).equals(pq.read_table(b))
    assert a.read_bytes() == b.read_bytes()
    assert not pq.read_table(a).equals(pq.read_table(c))
    names = sorted(p.name for p in (a.parent / "images").iterdir())
    assert names == sorted(p.name for p in (b.parent / "images").iterdir())
    for name in names[:: max(1, len(names) // 20)]:
        assert (a.parent / "images" / name).read_bytes() == (b.parent / "images" / name).read_bytes()


def test_schema_matches_exactly(full) -> None:
    schema = pq.read_schema(full)
    assert schema.names == list(SCHEMA)
    for name, (kind, _) in SCHEMA.items():
        assert str(schema.field(name).type) == kind, name
    meta = schema.metadata
    assert meta[b"interarec.generator_version"] == GENERATOR_VERSION.encode()
    assert meta[b"interarec.seed"] == b"7"


def test_counts_and_depth(catalog: Catalog) -> None:
    assert len(catalog) >= 2000
    assert len(catalog.categories) == 8
    assert catalog.brands == sorted(BRANDS) and len(BRANDS) == 30
    assert catalog.colours == sorted(COLOURS) and len(COLOURS) == 12
    pairs = Counter((p.brand, p.category) for p in catalog.products)
    per_brand = Counter(brand for brand, _ in pairs)
    assert all(2 <= n <= 4 for n in per_brand.values()), per_brand
    assert min(pairs.values()) >= 10  # a brand preference inside a category leaves plenty of candidates


def test_values_are_realistic(catalog: Catalog) -> None:
    titles = [p.title for p in catalog.products]
    assert len(set(titles)) == len(titles)
    for p in catalog.products:
        assert re.fullmatch(r"P\d{5}", p.product_id)
        assert re.fullmatch(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+ [A-Z][0-9]{1,2}", p.title), p.title
        assert p.title.startswith(p.brand + " ")
        assert round(p.price % 1, 2) in (0.0, 0.5, 0.99), p.price
        assert 0.15 <= p.margin <= 0.6
        assert 2.5 <= p.rating <= 5.0 and round(p.rating, 1) == p.rating
        assert 0 <= p.review_count <= 5000
        assert len(p.spec_pairs) >= 3 and p.description
        assert p.image == f"{p.product_id}.png"
    assert catalog.review_count.mean() > 2 * float(sorted(catalog.review_count)[len(catalog) // 2])  # skewed


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[:], i
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
    return row[-1]


def test_brand_names_are_ocr_friendly() -> None:
    assert len(set(BRANDS)) == 30
    for brand in BRANDS:
        assert re.fullmatch(r"[A-Z][a-z]{4,8}", brand), brand
    closest = min(_edit_distance(a.lower(), b.lower()) for i, a in enumerate(BRANDS) for b in BRANDS[i + 1:])
    assert closest >= 3


def test_images_exist(full, catalog: Catalog) -> None:
    assert all((catalog.images_dir / p.image).is_file() for p in catalog.products)
    with Image.open(catalog.images_dir / catalog.products[0].image) as img:
        assert img.format == "PNG" and img.size == (320, 320)


def test_cli_skips_an_identical_catalog(full, capsys) -> None:
    out = full.parent
    assert existing_matches(full, seed=7, n_products=2400)
    assert not existing_matches(full, seed=8, n_products=2400)
    before = full.stat().st_mtime_ns
    assert main(["--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert full.stat().st_mtime_ns == before


def test_cli_generates(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path), "--products", str(SMALL)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(Catalog.load(tmp_path / "catalog.parquet")) == SMALL
