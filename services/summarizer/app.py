"""Summarizer worker: frames in, behaviour summaries out, per-session window state in a table."""

from __future__ import annotations

from services.common import config
from services.common.topics import FRAMES, SUMMARIES
from services.common.worker import make_app, raw_topic, session_table, session_ttl_ms

app = make_app("summarizer", default_web_port=8601)
frames = raw_topic(app, FRAMES.name)
summaries = raw_topic(app, SUMMARIES.name)

# tenant/session key -> {"tenant", "session_id", "state": window.SessionState as JSON, "gateway": newest frame's
# gateway span, "seen_ms": processing time of the session's newest record (TTL)}. Only the agent writes it.
sessions = session_table(app, "summarizer-sessions", default=dict)

BACKEND = config.env_choice("INTERAREC_SUMMARIZER_BACKEND", "embedded", ("embedded",))
WINDOW_FRAMES = config.env_int("INTERAREC_SUMMARIZER_WINDOW_FRAMES", 6, minimum=1, maximum=64)
IDLE_MS = config.env_int("INTERAREC_SUMMARIZER_IDLE_MS", 2500, minimum=100, maximum=600_000)
OCR_WORKERS = config.env_int("INTERAREC_SUMMARIZER_OCR_WORKERS", 1, minimum=1, maximum=32)
SESSION_TTL_MS = session_ttl_ms()
