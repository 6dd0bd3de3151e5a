"""Optimizer worker: optimization requests in, revenue-maximising MNL assortments out."""

from __future__ import annotations

from services.common import config
from services.common.topics import OPT_REQUESTS, RECOMMENDATIONS
from services.common.worker import LastWindows, add_expiry_timer, make_app, raw_topic

app = make_app("optimizer", default_web_port=8603)
opt_requests = raw_topic(app, OPT_REQUESTS.name)
recommendations = raw_topic(app, RECOMMENDATIONS.name)
# Highest window_seq published per tenant/session: a recommendation never goes backwards or repeats.
last_window = LastWindows(app, "optimizer-last-window", OPT_REQUESTS.name)
add_expiry_timer(app, [last_window], "optimizer")

SOLVER = config.env_choice("INTERAREC_OPTIMIZER_SOLVER", "pyomo", ("pyomo", "threshold"))
