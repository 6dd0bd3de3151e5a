"""The storefront's text and image queries with the model backends (INTERAREC_STOREFRONT_QUERY_BACKEND=llm).

- Text: the decomposer's named tool call `optimize_assortment` with the typed query as data; its arguments
  go through the decomposer's validation and repair (llm_backend.build_request), and the rules' reading of
  the same text supplies k and the soft preferences.
- Image: the summarizer's vLLM backend on one image; its grounded summary becomes an item-to-item request
  when it names a catalog product, else a typed-query request from its grounded terms and price range.

Any model failure -> the rules (text) or embedded OCR + colour (image) answer, with `fallback_reason` set and
the same fallback counters as the pipeline. The answer's `backend` says which one produced it.
"""

from __future__ import annotations

import asyncio
import logging

from PIL import Image

from interarec.v1 import optimization_pb2
from services.common.catalog import Catalog
from services.common.llm import LlmClient, LlmError, LlmSettings
from services.core.decompose import llm_backend
from services.core.reading import vllm_backend
from services.core.reading.grounding import Grounder
from services.core.reading.profile import ShopProfile, load_profile
from services.core.reading.window import ClosedWindow
from services.storefront_api.image_query import ImageMatch, dominant_colour, image_request
from services.storefront_api.queries import similar_request, text_request

BACKENDS = ("rules", "llm")
K_MAX = 50  # the API's largest k
log = logging.getLogger("interarec.storefront_api")


class ModelQueries:
    """One client per caller (decomposer tool call, vLLM summary), as in the pipeline's services."""

    def __init__(self, settings: LlmSettings, catalog: Catalog, profile: ShopProfile | None = None):
        self.catalog = catalog
        self.palette = (profile or load_profile()).colours  # a picture's colour when the model names none
        self.decomposer = llm_backend.LlmDecomposer(LlmClient(settings, "storefront-query-text"), catalog, K_MAX)
        self.summarizer = vllm_backend.VllmSummarizer(LlmClient(settings, "storefront-query-image"), catalog)

    async def warm_up(self) -> None:
        """vLLM compiles a tool's / schema's grammar on first use (seconds): pay it at start-up, not on a
        shopper's first query. Failures are logged by each backend; the fallbacks cover them."""
        await asyncio.gather(self.decomposer.warm_up(), self.summarizer.warm_up())

    async def close(self) -> None:
        await self.decomposer.client.close()
        await self.summarizer.client.close()

    async def text(self, text: str, k: int, tenant: str) -> tuple[optimization_pb2.OptimizationRequest, list[str]]:
        """(request, words the rules did not understand). Never raises for a model failure."""
        rules_request, ignored = text_request(self.catalog, text, k, tenant)
        try:
            return await self.decomposer.decompose_query(rules_request, text), ignored
        except LlmError as exc:
            llm_backend.FALLBACKS.labels(reason=exc.kind).inc()
            log.warning("model text query failed, rules fallback: %s", exc)
            rules_request.fallback_reason = str(exc)[:500]
            return rules_request, ignored

    async def image(self, image: Image.Image, k: int, tenant: str) -> ImageMatch:
        """The model's reading of one image (raises LlmError; the caller falls back to `image_request`)."""
        window = ClosedWindow(window_seq=0, reason="image-query", page_url="", frame_seqs=[0], first_capture_ms=0,
                              last_capture_ms=0, opened_ms=0, closed_ms=0, observations=[], history=[],
                              dropped_duplicates=0)
        url = vllm_backend.data_url(image, self.summarizer.client.settings.max_pixels)
        summary = await self.summarizer.summarize("query:image", tenant, window, [url])
        viewed = summary.viewed_products[0].product_id if summary.viewed_products else None
        if viewed is not None:
            request = similar_request(self.catalog, self.catalog.by_id[viewed], k, tenant)
            request.summary.grounding_notes.extend(summary.grounding_notes)
        else:  # the grounded terms as a typed query: catalog values only, so nothing unvalidated gets through
            terms = [t.value for t in (*summary.product_types, *summary.brands, *summary.colours)]
            request, _ = text_request(self.catalog, " ".join(terms), k, tenant)
            if summary.price_range.high > 0:
                if summary.price_range.low > 0:
                    request.constraints.price_min = summary.price_range.low
                request.constraints.price_max = summary.price_range.high
            request.summary.CopyFrom(summary)
        request.session_id, request.backend, request.model = "query:image", vllm_backend.BACKEND, summary.model
        colour = (summary.colours[0].value if summary.colours
                  else dominant_colour(image, self.catalog.colours, self.palette))
        return ImageMatch(request, viewed, colour, list(summary.search_queries))


def embedded_fallback(grounder: Grounder, image: Image.Image, k: int, tenant: str, exc: LlmError,
                      tesseract: str = "") -> ImageMatch:
    """The embedded OCR + colour answer, saying why the model's was not used. Blocking (OCR)."""
    vllm_backend.FALLBACKS.labels(reason=exc.kind).inc()
    log.warning("model image query failed, embedded fallback: %s", exc)
    match = image_request(grounder, image, k, tenant, tesseract)
    match.request.fallback_reason = str(exc)[:500]
    return match
