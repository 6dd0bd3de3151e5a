"""Summarizer worker: frames in, behaviour summaries out, per-session window state in a table."""

from __future__ import annotations

from services.common.settings import from_env
from services.common.topics import FRAMES, SUMMARIES
from services.common.worker import make_app, raw_topic, session_table
from services.summarizer.settings import SummarizerSettings

SETTINGS = from_env(SummarizerSettings)
app = make_app("summarizer", SETTINGS.worker, SETTINGS.port)
frames = raw_topic(app, FRAMES.name)
summaries = raw_topic(app, SUMMARIES.name)

# tenant/session key -> {"tenant", "session_id", "state": window.SessionState as JSON, "gateway": newest frame's
# gateway span, "seen_ms": processing time of the session's newest record (TTL)}. Only the agent writes it.
sessions = session_table(app, "summarizer-sessions", default=dict)

BACKEND = SETTINGS.backend
WINDOW_FRAMES = SETTINGS.window_frames
IDLE_MS = SETTINGS.idle_ms
OCR_WORKERS = SETTINGS.ocr_workers
SESSION_TTL_MS = SETTINGS.worker.session_ttl_s * 1000
