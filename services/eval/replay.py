"""Replay a saved session through the pipeline's own domain code, in process: decode, near-duplicate check,
OCR + grounding, windowing (idle timer on the capture clock), summary, rules decomposer, MNL optimizer. No
browser, no Kafka: the same functions the Faust agents call, in the same order, per frame.

OCR results are cached next to the frames (keyed by the reader's source), so re-scoring is fast while any
change to the reader re-reads the frames."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.common.catalog import Catalog
from services.common.settings import from_env
from services.core.assortment.mnl import recommend
from services.core.decompose.rules import decompose
from services.core.reading import profile, reader
from services.core.reading.grounding import Observation
from services.core.reading.imaging import decode_image, dhash
from services.core.reading.reader import FrameReader
from services.core.reading.summary import summarize
from services.core.reading.window import ClosedWindow, FrameMeta, SessionState, add_frame, close_idle, should_process
from services.eval.live import SESSION_FILE
from services.summarizer.settings import SummarizerSettings

PANEL_K = 8  # the decomposer's default panel size; metrics at K > 8 then count the unfilled slots as misses


@dataclass
class WindowResult:
    window_seq: int
    capture_ms: int  # newest frame of the window (the recommendation's trace capture time)
    compute_ms: float  # OCR of the window's frames + summary + decomposition + solve, measured here
    items: list[str]
    items_window_only: list[str]  # InteraRec without session context (this window's observations only)
    viewed: list[str]
    constraints: str
    narrative: str
    items_model: list[str] | None = None  # the same window summarised by the model backend (interarec-vllm)
    model_fallback: str = ""  # why the embedded summary stood in for the model's, if it did
    closed_ms: int = 0  # capture clock when the window closed (a page change, idle or full window waits for it)
    reason: str = ""  # why it closed (window.ClosedWindow.reason)
    ocr_ms: float = 0.0  # the OCR part of compute_ms
    first_capture_ms: int = 0  # oldest frame of the window
    # When the panel built from this window shows, on the capture clock: one worker reads the frames in order as
    # they arrive (each read when it arrived or when the previous read ended), the window closes (a page
    # change, idle or full window waits for it), then it is summarised, decomposed and solved. Kafka hops are
    # not in it (`capture --live` measures them).
    shown_ms: float = 0.0
    frame_seqs: list[int] = field(default_factory=list)  # the window's distinct frames (Replay.observations keys)


@dataclass
class Replay:
    directory: Path
    meta: dict
    frames: list[dict]
    windows: list[WindowResult] = field(default_factory=list)
    observations: dict[int, dict] = field(default_factory=dict)  # frame seq -> Observation as dict


# Modules of the reading package that do not shape an observation: changing them keeps cached reads.
_NOT_READING = {"summary.py", "window.py", "prompts.py", "vllm_backend.py"}


def _reader_key() -> str:
    """Changes whenever any module of the reading package that a read goes through changes (a new module
    included), or the default profile, so cached reads are never stale."""
    h = hashlib.sha256()
    package = Path(reader.__file__).parent
    for path in sorted(package.glob("*.py")):
        if path.name not in _NOT_READING:
            h.update(path.name.encode() + path.read_bytes())
    h.update(Path(profile.DEFAULT_PATH).read_bytes())
    return h.hexdigest()[:12]


def read_frame(frame_reader: FrameReader, image, url: str, seq: int, capture_ms: int) -> Observation:
    """What the summarizer's agent does with a distinct frame (services/summarizer/agents.py: observe)."""
    return frame_reader.observe(image, page_url=url, frame_seq=seq, capture_ms=capture_ms)


def describe_constraints(c) -> str:
    """A request's constraints in one short line ("categories=['Lamps'], price=20..60", or "none"): what a replay's
    window and the in-session simulator report the decomposer asked for."""
    parts = [f"{n}={list(getattr(c, n))}" for n in ("categories", "brands", "colours") if getattr(c, n)]
    if c.HasField("price_min") or c.HasField("price_max"):
        parts.append(f"price={c.price_min:g}..{c.price_max:g}")
    if c.HasField("min_rating"):
        parts.append(f"min_rating={c.min_rating:g}")
    return ", ".join(parts) or "none"


def solve_panel(summary, catalog: Catalog, k: int):
    """What the decomposer and the optimizer make of `summary` (services/core, as the services run them):
    (the decomposed request, the ids of the k products the panel shows)."""
    request = decompose(summary, catalog, k=k)
    chosen, candidates = recommend(catalog, request)
    return request, [catalog.products[int(candidates[i])].product_id for i in chosen.indices]


def replay_session(directory: Path, catalog: Catalog, grounder: FrameReader, k: int = PANEL_K,
                   use_cache: bool = True, cache_key: str | None = None, model=None) -> Replay:
    """Replay one saved session. The cache (observations-<key>.json) holds each frame's perceptual hash and
    each read frame's observation; with a complete cache no image is decoded (`cache_key` pins a cache file,
    e.g. a test fixture recorded without its images). With `model` (services.eval.model_backend), each window
    is also summarised by the model backend from its frames."""
    # The summarizer's own window settings (its settings dataclass: the same variables, defaults and bounds),
    # read per replay so that an environment set after import counts, and a bad value fails the replay only.
    window_settings = from_env(SummarizerSettings)
    window_frames, idle_ms = window_settings.window_frames, window_settings.idle_ms
    directory = Path(directory)
    meta = json.loads((directory / SESSION_FILE).read_text())
    frames = [json.loads(line) for line in (directory / "frames.jsonl").read_text().splitlines() if line.strip()]
    frames.sort(key=lambda f: (f["capture_ms"], f["seq"]))
    cache_path = directory / f"observations-{cache_key or _reader_key()}.json"
    cache: dict[str, dict] = json.loads(cache_path.read_text()) if use_cache and cache_path.exists() else {}
    out = Replay(directory, meta, frames)
    files = {f["seq"]: f["file"] for f in frames}
    sid, tenant = meta["session_id"], "eval"
    state = SessionState()
    pending_ocr_ms = 0.0
    busy_ms = 0.0  # the simulated worker is busy reading frames until then (capture clock)

    def emit(window: ClosedWindow) -> None:
        nonlocal pending_ocr_ms, busy_ms
        t0 = time.perf_counter()
        summary = summarize(sid, tenant, window, window.history, catalog)
        request, items = solve_panel(summary, catalog, k)
        solve_ms = (time.perf_counter() - t0) * 1000
        compute_ms = pending_ocr_ms + solve_ms
        busy_ms = max(busy_ms, window.closed_ms) + solve_ms
        ocr_ms, pending_ocr_ms = pending_ocr_ms, 0.0
        alone = replace(window, history=[], seen_product_ids=[])
        _, items_alone = solve_panel(summarize(sid, tenant, alone, [], catalog), catalog, k)
        result = WindowResult(window.window_seq, window.last_capture_ms, round(compute_ms, 1), items, items_alone,
                              [v.product_id for v in summary.viewed_products],
                              describe_constraints(request.constraints), summary.narrative,
                              closed_ms=window.closed_ms, reason=window.reason,
                              ocr_ms=round(ocr_ms, 1), first_capture_ms=window.first_capture_ms,
                              shown_ms=round(busy_ms, 1), frame_seqs=list(window.frame_seqs))
        if model is not None:
            by_model = model.summarize(sid, tenant, window, [directory / files[s] for s in window.frame_seqs
                                                             if s in files])
            _, result.items_model = solve_panel(by_model, catalog, k)
            result.model_fallback = by_model.fallback_reason
        out.windows.append(result)

    for f in frames:
        meta_f = FrameMeta(frame_seq=f["seq"], capture_ms=f["capture_ms"], page_url=f["url"])
        idle = close_idle(state, f["capture_ms"], idle_ms)  # the agent's idle timer, on the capture clock
        if idle is not None:
            emit(idle)
        key = str(f["seq"])
        entry = cache.setdefault(key, {})
        image = None
        if "hash" not in entry:
            image = decode_image((directory / f["file"]).read_bytes())
            entry["hash"] = f"{dhash(image):x}"
        h = int(entry["hash"], 16)
        observation = None
        this_ms = 0.0  # this frame's OCR: it belongs to the window holding the frame, not one a page change closes
        if should_process(state, meta_f, h):
            if "observation" in entry:
                observation = Observation.from_dict(entry["observation"])
                this_ms = entry["ms"]
            else:
                image = image if image is not None else decode_image((directory / f["file"]).read_bytes())
                t0 = time.perf_counter()
                observation = read_frame(grounder, image, f["url"], f["seq"], f["capture_ms"])
                ms = (time.perf_counter() - t0) * 1000
                this_ms = ms
                entry.update(observation=observation.to_dict(), ms=round(ms, 1))
            out.observations[f["seq"]] = observation.to_dict()
        busy_ms = max(busy_ms, f["capture_ms"]) + this_ms
        for window in add_frame(state, meta_f, h, observation, f["capture_ms"], max_frames=window_frames):
            if f["seq"] in window.frame_seqs:
                pending_ocr_ms, this_ms = pending_ocr_ms + this_ms, 0.0
            emit(window)
        pending_ocr_ms += this_ms
    if frames:
        last = close_idle(state, frames[-1]["capture_ms"] + idle_ms, idle_ms)
        if last is not None:
            emit(last)
    if use_cache:
        cache_path.write_text(json.dumps(cache))
    return out
