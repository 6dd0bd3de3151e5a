"""The decomposer's settings, each variable declared once (services/common/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import nested, setting
from services.common.worker import WorkerSettings

BACKENDS = ("rules", "llm")


@dataclass(frozen=True)
class DecomposerSettings:
    worker: WorkerSettings = nested(WorkerSettings)
    port: int = setting("INTERAREC_DECOMPOSER_PORT", 8602, "the decomposer's /metrics, /healthz and /readyz port",
                        minimum=1, maximum=65535)
    k: int = setting("INTERAREC_RECOMMENDATION_SIZE", 8, "K, the assortment size bound", minimum=1, maximum=50)
    backend: str = setting("INTERAREC_DECOMPOSER_BACKEND", "rules",
                           "`rules`, or `llm`: tool calling on INTERAREC_LLM_* with the rules as fallback",
                           choices=BACKENDS)
