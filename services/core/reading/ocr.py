"""OCR of one screenshot with the tesseract CLI, grouped into text lines with confidence and size."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass

from PIL import Image

from services.common.settings import setting

from .imaging import OCR_MAX_PIXELS, OCR_TARGET_WIDTH, prepare_for_ocr

TESSERACT = shutil.which("tesseract") or "/usr/bin/tesseract"  # the default; INTERAREC_TESSERACT overrides
DEFAULT_TIMEOUT_S = 20.0
COLUMN_GAP_HEIGHTS = 2.5  # a gap wider than this many word heights separates columns, not words


def tesseract_setting():
    """The one declaration of INTERAREC_TESSERACT, for every service that runs the tesseract CLI."""
    return setting("INTERAREC_TESSERACT", "", "the tesseract binary (full-frame OCR of the storefront's image "
                   "queries and the benchmarks' baseline; the summarizer uses libtesseract)",
                   default_doc="`tesseract` on PATH")


class OcrError(RuntimeError):
    """tesseract is missing, timed out, or failed on an image."""


class OcrTimeout(OcrError, TimeoutError):
    """tesseract did not finish in time. The machine was starved (measured: 20 s timeouts on 1280x800 frames at
    load average 25 on 2 cores), not the frame unreadable: a transient failure, worth another attempt."""

    # Each attempt can cost the whole timeout while the summarizer's agent holds every partition it owns: a few
    # attempts, then the frame goes to the dead letters (accounted for, replayable), never silently signal-less.
    max_attempts = 3


@dataclass(frozen=True)
class OcrLine:
    text: str
    conf: float      # mean word confidence 0..100
    height: float    # median word box height in source-image pixels (big heading vs small print)
    left: int        # bounding box in source-image pixels
    top: int
    width: int

    @property
    def right(self) -> int:
        return self.left + self.width


def _env() -> dict[str, str]:
    # One OpenMP thread: tesseract's own threading costs more than it gains on small images, and the
    # worker runs OCR for several sessions concurrently anyway.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def run_tesseract_tsv(image: Image.Image, *, psm: int = 3, timeout_s: float = DEFAULT_TIMEOUT_S,
                      tesseract: str = "") -> str:
    """Raw TSV output of tesseract on an image (sent as uncompressed PNM on stdin: no encode cost)."""
    tesseract = tesseract or TESSERACT
    buf = io.BytesIO()
    image.save(buf, format="PPM")  # L mode -> PGM
    cmd = [tesseract, "stdin", "stdout", "--psm", str(psm), "-l", "eng", "tsv"]
    try:
        proc = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, timeout=timeout_s,
                              env=_env(), check=False)
    except FileNotFoundError:
        raise OcrError(f"tesseract not found at {tesseract} (apt-get install tesseract-ocr tesseract-ocr-eng, "
                       "or set INTERAREC_TESSERACT)") from None
    except subprocess.TimeoutExpired:
        w, h = image.size
        raise OcrTimeout(f"tesseract timed out after {timeout_s:.0f}s on a {w}x{h} image") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise OcrError(f"tesseract exited with {proc.returncode}: {err}")
    return proc.stdout.decode("utf-8", "replace")


def parse_tsv(tsv: str, scale: float = 1.0) -> list[OcrLine]:
    """Group word rows (level 5) of tesseract TSV into lines, mapping boxes back by 1/scale."""
    groups: dict[tuple[int, int, int, int], list[tuple[int, int, int, int, float, str]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            key = (int(cols[1]), int(cols[2]), int(cols[3]), int(cols[4]))
            left, top, width, height = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            continue
        groups.setdefault(key, []).append((left, top, width, height, conf, text))
    lines = []
    for words in groups.values():
        words.sort(key=lambda w: w[0])
        for segment in _split_columns(words):
            lines.append(_line(segment, scale))
    lines.sort(key=lambda ln: (ln.top, ln.left))
    return lines


def _split_columns(words: list[tuple[int, int, int, int, float, str]]) -> list[list]:
    """Split a tesseract line where words are far apart: side-by-side columns (page body and the
    recommendation panel, table cells, grid cards) must not merge into one line of text."""
    heights = sorted(w[3] for w in words)
    max_gap = max(COLUMN_GAP_HEIGHTS * heights[len(heights) // 2], 24)
    segments = [[words[0]]]
    for prev, word in zip(words, words[1:], strict=False):
        if word[0] - (prev[0] + prev[2]) > max_gap:
            segments.append([])
        segments[-1].append(word)
    return segments


def _line(words: list[tuple[int, int, int, int, float, str]], scale: float) -> OcrLine:
    heights = sorted(w[3] for w in words)
    left = min(w[0] for w in words)
    right = max(w[0] + w[2] for w in words)
    top = min(w[1] for w in words)
    return OcrLine(
        text=" ".join(w[5] for w in words),
        conf=sum(max(w[4], 0.0) for w in words) / len(words),
        height=heights[len(heights) // 2] / scale,
        left=round(left / scale), top=round(top / scale), width=round((right - left) / scale),
    )


def ocr_lines(image: Image.Image, *, target_width: int = OCR_TARGET_WIDTH, max_pixels: float = OCR_MAX_PIXELS,
              timeout_s: float = DEFAULT_TIMEOUT_S, tesseract: str = "") -> list[OcrLine]:
    """OCR a screenshot into lines (reading order: top to bottom) with boxes in the screenshot's pixels.

    Blocking (~0.45 s CPU for a 1280x800 frame): call it from a thread or process pool, not the event loop.
    """
    prepared = prepare_for_ocr(image, target_width=target_width, max_pixels=max_pixels)
    effective = prepared.size[0] / image.size[0]
    return parse_tsv(run_tesseract_tsv(prepared, timeout_s=timeout_s, tesseract=tesseract), scale=effective)
