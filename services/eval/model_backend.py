"""The summarizer's vllm backend inside the evaluation (method `interarec-vllm`).

When a model server is configured (INTERAREC_LLM_BASE_URL, INTERAREC_LLM_MODEL and the other INTERAREC_LLM_*
settings of services/common/llm.py), every replayed window is also summarised by that server from the same
captured frames, exactly as the summarizer does with INTERAREC_SUMMARIZER_BACKEND=vllm (frames picked and
downscaled the same way, the same prompt, grounding and embedded fallback), then decomposed and solved like
the embedded summary. Unset: the method is skipped and the report says why.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

from interarec.v1 import summaries_pb2
from services.common.catalog import Catalog
from services.common.llm import LlmClient, LlmSettings
from services.core.reading.imaging import decode_image
from services.core.reading.vllm_backend import VllmSummarizer, data_url, pick_frames, summarize_window
from services.core.reading.window import ClosedWindow

METHOD = "interarec-vllm"


class ModelSummaries:
    """One client and event loop for a whole evaluation run; call close() at the end."""

    def __init__(self, catalog: Catalog, settings: LlmSettings):
        self.catalog, self.settings = catalog, settings
        self.loop = asyncio.new_event_loop()

        async def make() -> LlmClient:
            return LlmClient(settings, "eval")

        self.client = self.loop.run_until_complete(make())
        self.backend = VllmSummarizer(self.client, catalog)
        self.windows = 0
        self.fallbacks: Counter[str] = Counter()  # why the embedded summary stood in, by reason

    def summarize(self, session_id: str, tenant: str, window: ClosedWindow,
                  frame_files: list[Path]) -> summaries_pb2.BehaviourSummary:
        files = [f for f in frame_files if f.exists()]  # a session saved without its images has none
        urls = [data_url(decode_image(f.read_bytes()), self.settings.max_pixels) for f in files]
        urls = [urls[i] for i in pick_frames(len(urls), self.settings.max_images)]
        summary = self.loop.run_until_complete(
            summarize_window(self.backend, session_id, tenant, window, urls, self.catalog))
        self.windows += 1
        if summary.fallback_reason:
            self.fallbacks[summary.fallback_reason.split(":")[0][:60]] += 1
        return summary

    def describe(self) -> str:
        used = self.windows - sum(self.fallbacks.values())
        text = f"model {self.settings.model} at {self.settings.base_url}: {used}/{self.windows} windows summarised"
        if self.fallbacks:
            text += " (embedded fallback: " + ", ".join(f"{n}x {r}" for r, n in self.fallbacks.most_common()) + ")"
        return text

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


def from_env(catalog: Catalog) -> tuple[ModelSummaries | None, str]:
    """The model backend when INTERAREC_LLM_BASE_URL is set, else (None, why it is skipped). A set but invalid
    INTERAREC_LLM_* setting raises ConfigError: a misconfiguration must not pass for a skip."""
    if not os.environ.get("INTERAREC_LLM_BASE_URL", "").strip():
        return None, ("skipped: INTERAREC_LLM_BASE_URL is not set, so there is no model server to summarise the "
                      "frames with (set it and INTERAREC_LLM_MODEL to compare the vllm backend)")
    settings = LlmSettings.from_env()
    return ModelSummaries(catalog, settings), ""

