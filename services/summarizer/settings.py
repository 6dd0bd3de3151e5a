"""The summarizer's settings, each variable declared once (services/common/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import nested, setting
from services.common.worker import WorkerSettings
from services.core.reading.profile import ShopProfile, profile_setting

BACKENDS = ("embedded", "vllm")


@dataclass(frozen=True)
class SummarizerSettings:
    worker: WorkerSettings = nested(WorkerSettings)
    shop_profile: ShopProfile = profile_setting()  # the storefront's too: both read shop screens
    port: int = setting("INTERAREC_SUMMARIZER_PORT", 8601, "the summarizer's /metrics, /healthz and /readyz port",
                        minimum=1, maximum=65535)
    backend: str = setting("INTERAREC_SUMMARIZER_BACKEND", "embedded",
                           "`embedded` (OCR + catalog grounding on this CPU) or `vllm` (a multimodal model on "
                           "INTERAREC_LLM_*, the embedded summary as fallback)", choices=BACKENDS)
    window_frames: int = setting("INTERAREC_SUMMARIZER_WINDOW_FRAMES", 6, "distinct frames that close a window",
                                 minimum=1, maximum=64)
    idle_ms: int = setting("INTERAREC_SUMMARIZER_IDLE_MS", 2500, "quiet time that closes a window",
                           minimum=100, maximum=600_000)
    lookahead: int = setting("INTERAREC_SUMMARIZER_LOOKAHEAD", 128,
                             "frames the agent takes at once from what already waits for it (also its stream buffer, "
                             "so up to this many frames are held in memory); of one session's page visit only the "
                             "newest among them is read, the older ones are skipped and accounted (latest wins "
                             "when it falls behind). Must exceed the frames arriving during one batch (about the "
                             "lag target): a full batch leaves the rest waiting; 1 turns latest wins off",
                             minimum=1, maximum=512)
    stale_ms: int = setting("INTERAREC_SUMMARIZER_STALE_MS", 1500,
                            "a frame that waited longer than this in the frames topic (the summarizer is behind) "
                            "is read only if its page visit has not been read yet, else skipped and accounted "
                            "(latest wins); 0 turns it off", minimum=0, maximum=600_000)
    max_wait_ms: int = setting("INTERAREC_SUMMARIZER_MAX_WAIT_MS", 1500,
                               "the lag the summarizer aims to stay under: when reading every page visit of a "
                               "lookahead batch would keep it behind this, the older visits of a session with a "
                               "newer one in the batch are skipped unread and accounted; a session's newest frame "
                               "in the batch is always read (an outage's backlog it can work off is read visit by "
                               "visit); 0: never skip a whole visit", minimum=0, maximum=600_000)
    outage_keep_ms: int = setting("INTERAREC_SUMMARIZER_OUTAGE_KEEP_MS", 0,
                                  "opt-in floor: an outage's backlog (frames appended before this worker was reading "
                                  "their partition: it was down, or the partition had no owner) is read page visit "
                                  "by visit while its frames have waited at most this long, whatever the lag target. "
                                  "Off by default: its cost grows with sessions x outage, and at twice the load with "
                                  "18 shoppers a 15 s outage with 30 s here left the worker 38 s behind and lost "
                                  "views. 0: a short outage's visits are read as the lag target's budget allows",
                                  minimum=0, maximum=600_000)
    take_turns: str = setting("INTERAREC_SUMMARIZER_TAKE_TURNS", "on",
                              "when even each session's newest page visit in a lookahead batch would keep the "
                              "summarizer behind INTERAREC_SUMMARIZER_MAX_WAIT_MS (but not while it works off an "
                              "outage's backlog: frames appended before it was reading their partition), sessions "
                              "take turns (one a batch while far behind): the newest "
                              "frames of the sessions read most recently are held for the next batch and read there "
                              "unless a newer frame of the session supersedes them; `off`: every session's newest "
                              "frame is read in each batch", choices=("on", "off"))
    ocr_workers: int = setting("INTERAREC_SUMMARIZER_OCR_WORKERS", 1,
                               "parallel OCR threads (libtesseract, loaded once per thread, runs without the GIL)",
                               minimum=1, maximum=32)
    max_in_flight: int = setting("INTERAREC_SUMMARIZER_MAX_IN_FLIGHT", 0,
                                 "model path: windows summarised at once (0: `INTERAREC_LLM_MAX_IN_FLIGHT`)",
                                 minimum=0, maximum=4096)
