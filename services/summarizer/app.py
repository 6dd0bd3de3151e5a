"""Summarizer worker: frames in, behaviour summaries out, per-session window state in a table."""

from __future__ import annotations

import faust

from services.common import config
from services.common.topics import FRAMES, SUMMARIES, session_partition
from services.common.worker import make_app, raw_topic

app = make_app("summarizer", default_web_port=8601)
frames = raw_topic(app, FRAMES.name)
summaries = raw_topic(app, SUMMARIES.name)


class SessionTable(faust.Table):
    """A table whose changelog partition is Kafka's default partitioner (murmur2) on the session id,
    computed here. The gateway partitions frames the same way, so a session's state and frames share a
    partition number; and the idle timer can write outside any stream event without Faust's
    use_partitioner, which asks the producer's metadata and fails (TypeError) until that is loaded."""

    def partition_for_key(self, key: str) -> int:
        return session_partition(key, FRAMES.partitions)


# Session id -> {"tenant", "state": window.SessionState as JSON, "gateway": newest frame's gateway span}.
sessions = app.tables.add(SessionTable(app, name="summarizer-sessions", default=dict, key_type=str,
                                       partitions=FRAMES.partitions))

BACKEND = config.env_choice("INTERAREC_SUMMARIZER_BACKEND", "embedded", ("embedded", "vllm"))
WINDOW_FRAMES = config.env_int("INTERAREC_SUMMARIZER_WINDOW_FRAMES", 6, minimum=1, maximum=64)
IDLE_MS = config.env_int("INTERAREC_SUMMARIZER_IDLE_MS", 2500, minimum=100, maximum=600_000)
OCR_WORKERS = config.env_int("INTERAREC_SUMMARIZER_OCR_WORKERS", 1, minimum=1, maximum=32)
