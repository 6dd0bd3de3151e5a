"""Decomposer worker: behaviour summaries in, validated optimization requests out."""

from __future__ import annotations

from services.common import config
from services.common.topics import OPT_REQUESTS, SUMMARIES
from services.common.worker import LastWindows, add_expiry_timer, make_app, raw_topic

app = make_app("decomposer", default_web_port=8602)
summaries = raw_topic(app, SUMMARIES.name)
opt_requests = raw_topic(app, OPT_REQUESTS.name)
# Highest window_seq turned into a request, per tenant/session: duplicates and stale windows stop here.
last_window = LastWindows(app, "decomposer-last-window", SUMMARIES.name)
add_expiry_timer(app, [last_window], "decomposer")

K = config.env_int("INTERAREC_RECOMMENDATION_SIZE", 8, minimum=1, maximum=50)
BACKEND = config.env_choice("INTERAREC_DECOMPOSER_BACKEND", "rules", ("rules",))
