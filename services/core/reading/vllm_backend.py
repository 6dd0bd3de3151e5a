"""The summarizer's `vllm` backend: a window's distinct frames -> a multimodal model -> a grounded summary.

The frames go out as base64 JPEG data URLs (at most `max_images`, each downscaled to `max_pixels`), the
answer comes back as JSON under the schema in prompts.py. Nothing the model says is trusted: the answer is
validated against the schema, then grounded in the catalog -- viewed products matched by title, brands,
colours and categories mapped onto the catalog's spelling, prices and ratings range-checked -- and every
claim dropped on the way is recorded in `grounding_notes`. This backend supplies only those grounded claims
(summary.Claims); summary.build_summary makes the summary from them as it does for the embedded backend, so
a grounded view's catalog attributes (price, brand, rating) beat anything read off the screen and the
narrative is rebuilt from the grounded fields: text injected on a page never reaches a shopper-facing paragraph.

Any failure (server down, slow, truncated, garbage, wrong schema) raises LlmError; `summarize_window`
then falls back to the embedded backend's claims about the same window, says why in `fallback_reason` and
counts it.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import re
from collections.abc import Sequence

from PIL import Image
from prometheus_client import Counter
from pydantic import ValidationError

from interarec.v1 import summaries_pb2
from services.common import privacy
from services.common.catalog import Catalog, Product
from services.common.llm import LlmClient, LlmError
from services.common.vocabulary import Vocabulary, norm

from . import prompts
from .grounding import Observation
from .summary import Claims, EmbeddedSummarizer, Summarizer, View, build_summary
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


def ground_answer(answer: prompts.SummaryAnswer, g: CatalogGrounding,
                  history: Sequence[Observation]) -> Claims:
    """The model's answer as claims in catalog terms, with notes on what was dropped."""
    notes: list[str] = []
    # Viewed products: the session's earlier grounded views, then what the model saw in this window.
    viewed: dict[str, View] = {}
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
    claims = Claims(backend=BACKEND, views=list(viewed.values()), prompt_version=prompts.PROMPT_VERSION,
                    product_types=_terms(answer.product_types, g.category, "product type", notes),
                    brands=_terms(answer.brands, g.brand, "brand", notes),
                    colours=_terms(answer.colours, g.colour, "colour", notes),
                    read_reviews=answer.read_reviews, notes=notes)

    low, high = answer.price_low, answer.price_high
    if low or high:  # None and 0 both mean "no price seen" (a grammar-bound model may not say null)
        low, high = low or 0.0, high if high is not None else float(g.catalog.price.max())
        if low > high:
            notes.append(f"price range {low:g}..{high:g} reversed; swapped")
            low, high = high, low
        if low < 0 or not 0 < high <= g.price_ceiling:
            notes.append(f"dropped price range {low:g}..{high:g}: outside (0, {g.price_ceiling:g}]")
        else:
            claims.price_range = (low, high)
    claims.ratings_seen = [r for r in answer.ratings_seen if 0 <= r <= 5]
    if len(claims.ratings_seen) < len(answer.ratings_seen):
        notes.append(f"dropped {len(answer.ratings_seen) - len(claims.ratings_seen)} rating(s) outside 0..5")
    for spec in answer.specifications:
        if (canonical := g.specs.get(norm(spec))) is not None:
            claims.specifications.append(canonical)
        elif spec.strip():
            notes.append(f"dropped specification {_clean_text(spec)!r}: no catalog product has it")
    for pair in filter(str.strip, answer.comparisons):
        a, sep, b = pair.partition(" vs ")
        pa, pb = (g.product(a), g.product(b)) if sep else (None, None)
        if pa is not None and pb is not None and pa.product_id != pb.product_id:
            claims.comparisons.append((pa, pb))
        else:
            notes.append(f"dropped comparison {_clean_text(pair)!r}: not two catalog titles")
    claims.promotions = [t for t in map(_clean_text, answer.promotions) if t]
    claims.search_queries = [t for t in map(_clean_text, answer.search_queries) if t]
    return claims


# --- the backend --------------------------------------------------------------------------------------

class VllmSummarizer:
    """The vllm backend behind the Summarizer protocol."""

    backend = BACKEND

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
            await self.claims(w, [url])
            log.info("model warm-up call done")
        except LlmError as exc:
            log.warning("model warm-up call failed (the embedded fallback covers it): %s", exc)

    async def claims(self, window: ClosedWindow, image_urls: list[str]) -> Claims:
        """The model's grounded claims about the window; raises LlmError when there are none worth using."""
        if not image_urls:
            raise LlmError("no_images", "the window's frames are not available")
        history = window.history
        earlier = list(dict.fromkeys(self.catalog.by_id[o.product_id].title for o in history
                                     if o.kind == "product" and o.product_id in self.catalog.by_id))
        msgs = prompts.messages(image_urls[-self.client.settings.max_images:], window_seq=window.window_seq,
                                page_url=window.page_url, earlier_views=earlier)
        answer = await self.client.chat(msgs, response_format=self.response_format)
        try:
            parsed = prompts.SummaryAnswer.model_validate(answer.json_content())
        except ValidationError as exc:
            raise LlmError("wrong_schema", str(exc).replace("\n", " ")[:300]) from None
        claims = ground_answer(parsed, self.grounding, history)
        claims.model = self.client.settings.model
        return claims

    async def summarize(self, session_id: str, tenant: str, window: ClosedWindow,
                        image_urls: list[str]) -> summaries_pb2.BehaviourSummary:
        """The model's summary of the window (no fallback); raises LlmError."""
        return build_summary(session_id, tenant, window, window.history, await self.claims(window, image_urls))


async def summarize_window(backend: Summarizer | None, session_id: str, tenant: str, window: ClosedWindow,
                           image_urls: list[str], catalog: Catalog) -> summaries_pb2.BehaviourSummary:
    """The backend's summary when it gives usable claims, else the embedded backend's, saying why. Never
    raises for a model failure: the window is always summarised."""
    fallback = EmbeddedSummarizer(catalog)
    reason = ""
    try:
        claims = await (backend or fallback).claims(window, image_urls)
    except LlmError as exc:
        FALLBACKS.labels(reason=exc.kind).inc()
        log.warning("model summary failed, embedded fallback: %s", exc,
                    extra={"session_id": session_id, "window_seq": window.window_seq})
        claims, reason = await fallback.claims(window, image_urls), str(exc)[:500]
    summary = build_summary(session_id, tenant, window, window.history, claims)
    summary.fallback_reason = reason
    return summary
