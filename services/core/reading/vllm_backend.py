"""The summarizer's `vllm` backend: a window's distinct frames -> a multimodal model -> a grounded summary.

The frames go out as base64 JPEG data URLs (at most `max_images`, each downscaled to `max_pixels`), the
answer comes back as JSON under the schema in prompts.py. Nothing the model says is trusted: the answer is
validated against the schema, then grounded in the catalog -- viewed products matched by title, brands,
colours and categories mapped onto the catalog's spelling, prices and ratings range-checked -- and every
claim dropped on the way is recorded in `grounding_notes`. When a viewed product is grounded, its catalog
attributes (price, brand, rating) beat anything read off the screen. The narrative is rebuilt from the
grounded fields (summary.narrative), so text injected on a page never reaches a shopper-facing paragraph.

Any failure (server down, slow, truncated, garbage, wrong schema) raises LlmError; `summarize_window`
then falls back to the embedded summary of the same window, says why in `fallback_reason` and counts it.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import re
from collections import Counter as Tally
from collections.abc import Sequence

from PIL import Image
from prometheus_client import Counter
from pydantic import ValidationError

from interarec.v1 import summaries_pb2
from services.common import privacy
from services.common.catalog import CURRENCY, Catalog, Product
from services.common.llm import LlmClient, LlmError
from services.common.vocabulary import Vocabulary, norm

from . import prompts
from .grounding import Observation
from .summary import (
    MAX_COMPARISONS,
    MAX_PROMOTIONS,
    MAX_QUERIES,
    MAX_SPECS,
    add_session_context,
    add_views,
    narrative,
    summarize,
)
from .window import ClosedWindow

BACKEND = "vllm"
JPEG_QUALITY = 80
MAX_TEXT = 120                     # longest promotion / search text kept from the screen
PRICE_CEILING_FACTOR = 10          # a price above 10x the dearest catalog product is a misread
FALLBACKS = Counter("interarec_summarizer_fallbacks_total",
                    "Windows the model could not summarise, handled by the embedded backend", ["reason"])
log = logging.getLogger("interarec.summarizer")


# --- frames -> data URLs ------------------------------------------------------------------------------

def pick_frames(n: int, limit: int) -> list[int]:
    """Indexes of at most `limit` of n frames, spread evenly and always including the newest."""
    if n <= limit:
        return list(range(n))
    if limit == 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def downscale(image: Image.Image, max_pixels: int) -> Image.Image:
    w, h = image.size
    if w * h <= max_pixels:
        return image
    scale = math.sqrt(max_pixels / (w * h))
    return image.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.Resampling.LANCZOS)


def data_url(image: Image.Image, max_pixels: int) -> str:
    """A frame as the model sees it: downscaled to the pixel budget, JPEG, base64 data URL."""
    buf = io.BytesIO()
    downscale(image.convert("RGB"), max_pixels).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- answer -> grounded summary -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _clean_text(text: str) -> str:
    """Every piece of the model's text that enters a summary or a note passes here: personal data it read
    off a frame is dropped (services/common/privacy.py)."""
    return privacy.clean(re.sub(r"\s+", " ", _CONTROL.sub(" ", text)).strip())[:MAX_TEXT]


class CatalogGrounding:
    """Catalog vocabularies built once per catalog."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.brand = Vocabulary(catalog.brands)
        self.colour = Vocabulary(catalog.colours)
        self.category = Vocabulary(catalog.categories)
        self.by_title = {norm(p.title): p for p in catalog.products}
        self.title = Vocabulary(p.title for p in catalog.products)
        self.specs = {norm(f"{k}: {v}"): f"{k}: {v}" for p in catalog.products for k, v in p.spec_pairs}
        self.price_ceiling = float(catalog.price.max()) * PRICE_CEILING_FACTOR

    def product(self, title: str) -> Product | None:
        hit = self.by_title.get(norm(title))
        if hit is None and (canonical := self.title(title)) is not None:
            hit = self.by_title[norm(canonical)]
        return hit


def _weighted(values: Sequence[str], total: int) -> list[summaries_pb2.WeightedTerm]:
    ordered = sorted(Tally(values).items(), key=lambda kv: (-kv[1], kv[0]))
    return [summaries_pb2.WeightedTerm(value=v, weight=round(n / total, 4)) for v, n in ordered]


def _terms(said: list[str], ground: Vocabulary, noun: str, notes: list[str]) -> list[str]:
    out: list[str] = []
    for value in said:
        canonical = ground(value)
        if canonical is None:
            if value.strip():
                notes.append(f"dropped {noun} {_clean_text(value)!r}: not in the catalog")
        elif canonical not in out:
            out.append(canonical)
    return out


def ground_answer(answer: prompts.SummaryAnswer, g: CatalogGrounding, *, session_id: str, tenant: str,
                  window: ClosedWindow, history: Sequence[Observation]) -> summaries_pb2.BehaviourSummary:
    """The model's answer as a BehaviourSummary in catalog terms, plus notes on what was dropped."""
    notes: list[str] = []
    s = summaries_pb2.BehaviourSummary(
        session_id=session_id, tenant=tenant, window_seq=window.window_seq, backend=BACKEND,
        frames_in_window=window.frames, frames_dropped_duplicate=window.dropped_duplicates,
        window_close_reason=window.reason, prompt_version=prompts.PROMPT_VERSION)
    s.trace.capture_unix_ms = window.last_capture_ms

    # Viewed products: the session's earlier grounded views, then what the model saw in this window.
    viewed: dict[str, tuple[Product, int, float]] = {}
    for o in history:
        if o.kind == "product" and o.product_id in g.catalog.by_id:
            p, n, c = viewed.pop(o.product_id, (g.catalog.by_id[o.product_id], 0, 0.0))
            viewed[o.product_id] = (p, n + 1, max(c, o.product_confidence))  # re-inserted: last view order
    for title in answer.viewed_products:
        product = g.product(title)
        if product is None:
            if title.strip():
                notes.append(f"dropped viewed product {_clean_text(title)!r}: no catalog title matches")
            continue
        exact = norm(title) == norm(product.title)
        p, n, c = viewed.pop(product.product_id, (product, 0, 0.0))
        viewed[product.product_id] = (p, n + 1, max(c, 1.0 if exact else 0.9))
    # Shares of grounded views with the embedded backend's recency weighting: catalog attributes beat the screen.
    products = add_views(s, list(viewed.values()))

    categories = _terms(answer.product_types, g.category, "product type", notes)
    brands = _terms(answer.brands, g.brand, "brand", notes)
    colours = _terms(answer.colours, g.colour, "colour", notes)
    if not products:
        # No product page: what was listed or filtered is the signal, each named term weighted equally.
        for target, values in ((s.product_types, categories), (s.brands, brands), (s.colours, colours)):
            target.extend(summaries_pb2.WeightedTerm(value=v, weight=round(1 / len(values), 4)) for v in values)
        low, high = answer.price_low, answer.price_high
        if low or high:  # None and 0 both mean "no price seen" (a grammar-bound model may not say null)
            low, high = low or 0.0, high if high is not None else g.catalog.price.max()
            if low > high:
                notes.append(f"price range {low:g}..{high:g} reversed; swapped")
                low, high = high, low
            if low < 0 or not 0 < high <= g.price_ceiling:
                notes.append(f"dropped price range {low:g}..{high:g}: outside (0, {g.price_ceiling:g}]")
            else:
                s.price_range.low, s.price_range.high, s.price_range.currency = low, high, CURRENCY
        ratings = [r for r in answer.ratings_seen if 0 <= r <= 5]
        if len(ratings) < len(answer.ratings_seen):
            notes.append(f"dropped {len(answer.ratings_seen) - len(ratings)} rating(s) outside 0..5")
        if ratings:
            s.reviews.min_rating_viewed = min(ratings)
            s.reviews.mean_rating_viewed = round(sum(ratings) / len(ratings), 2)

    specs = []
    for spec in answer.specifications:
        if (canonical := g.specs.get(norm(spec))) is not None:
            specs.append(canonical)
        elif spec.strip():
            notes.append(f"dropped specification {_clean_text(spec)!r}: no catalog product has it")
    if specs:
        s.specifications.extend(_weighted(specs, len(specs))[:MAX_SPECS])
    s.reviews.read_reviews = answer.read_reviews
    for pair in filter(str.strip, answer.comparisons):
        a, sep, b = pair.partition(" vs ")
        pa, pb = (g.product(a), g.product(b)) if sep else (None, None)
        if pa is not None and pb is not None and pa.product_id != pb.product_id:
            s.comparisons.append(f"{pa.title} vs {pb.title}")
        else:
            notes.append(f"dropped comparison {_clean_text(pair)!r}: not two catalog titles")
    del s.comparisons[:-MAX_COMPARISONS]
    s.promotions.extend(list(dict.fromkeys(t for t in map(_clean_text, answer.promotions) if t))[:MAX_PROMOTIONS])
    s.search_queries.extend(list(dict.fromkeys(t for t in map(_clean_text, answer.search_queries) if t))[:MAX_QUERIES])
    add_session_context(s, window, [*history, *window.observations], products)
    s.narrative = narrative(s)
    s.grounding_notes.extend(notes)
    return s


# --- the backend --------------------------------------------------------------------------------------

class VllmSummarizer:
    def __init__(self, client: LlmClient, catalog: Catalog):
        self.client, self.catalog = client, catalog
        self.grounding = CatalogGrounding(catalog)
        self.response_format = prompts.response_format(catalog)

    async def warm_up(self) -> None:
        """One throwaway call at start-up: vLLM compiles the JSON schema's grammar on its first use."""
        w = ClosedWindow(window_seq=0, reason="warm-up", page_url="", frame_seqs=[0], first_capture_ms=0,
                         last_capture_ms=0, opened_ms=0, closed_ms=0, observations=[], history=[],
                         dropped_duplicates=0)
        url = data_url(Image.new("RGB", (64, 40), "white"), self.client.settings.max_pixels)
        try:
            await self.summarize("warm-up", "warm-up", w, [url], [])
            log.info("model warm-up call done")
        except LlmError as exc:
            log.warning("model warm-up call failed (the embedded fallback covers it): %s", exc)

    async def summarize(self, session_id: str, tenant: str, window: ClosedWindow, image_urls: list[str],
                        history: Sequence[Observation]) -> summaries_pb2.BehaviourSummary:
        """The model's summary of the window; raises LlmError when there is none worth using."""
        if not image_urls:
            raise LlmError("no_images", "the window's frames are not available")
        earlier = list(dict.fromkeys(self.catalog.by_id[o.product_id].title for o in history
                                     if o.kind == "product" and o.product_id in self.catalog.by_id))
        msgs = prompts.messages(image_urls[-self.client.settings.max_images:], window_seq=window.window_seq,
                                page_url=window.page_url, earlier_views=earlier)
        answer = await self.client.chat(msgs, response_format=self.response_format)
        try:
            parsed = prompts.SummaryAnswer.model_validate(answer.json_content())
        except ValidationError as exc:
            raise LlmError("wrong_schema", str(exc).replace("\n", " ")[:300]) from None
        summary = ground_answer(parsed, self.grounding, session_id=session_id, tenant=tenant, window=window,
                                history=history)
        summary.model = self.client.settings.model
        return summary


async def summarize_window(backend: VllmSummarizer | None, session_id: str, tenant: str, window: ClosedWindow,
                           image_urls: list[str], catalog: Catalog) -> summaries_pb2.BehaviourSummary:
    """The model's summary when it gives a usable one, else the embedded summary saying why. Never raises
    for a model failure: the window is always summarised."""
    if backend is not None:
        try:
            return await backend.summarize(session_id, tenant, window, image_urls, window.history)
        except LlmError as exc:
            FALLBACKS.labels(reason=exc.kind).inc()
            log.warning("model summary failed, embedded fallback: %s", exc,
                        extra={"session_id": session_id, "window_seq": window.window_seq})
            summary = summarize(session_id, tenant, window, window.history, catalog)
            summary.fallback_reason = str(exc)[:500]
            return summary
    return summarize(session_id, tenant, window, window.history, catalog)
