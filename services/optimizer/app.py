"""Optimizer worker: optimization requests in, revenue-maximising MNL assortments out; feedback in, learned
attraction out."""

from __future__ import annotations

from services.common import config
from services.common.topics import FEEDBACK, OPT_REQUESTS, RECOMMENDATIONS
from services.common.worker import LastWindows, add_expiry_timer, make_app, raw_topic

app = make_app("optimizer", default_web_port=8603)
opt_requests = raw_topic(app, OPT_REQUESTS.name)
recommendations = raw_topic(app, RECOMMENDATIONS.name)
# Highest window_seq published per tenant/session: a recommendation never goes backwards or repeats.
last_window = LastWindows(app, "optimizer-last-window", OPT_REQUESTS.name)
add_expiry_timer(app, [last_window], "optimizer")
feedback = raw_topic(app, FEEDBACK.name)
# Feedback counts (feedback.Counts as a JSON string) per "tenant/product_id@partition" (feedback.table_key):
# each key is written only by the owner of its feedback partition, with the offset it has counted up to, so
# redeliveries are skipped and the changelog replays to the same totals. Every replica also reads this
# changelog in full (feedback_sync.py) to learn from the partitions it does not own.
# Hourly segments: compaction (one record per key) only reaches closed segments, and every replica replays
# the changelog at start. Faust applies topic configs when it creates the changelog.
feedback_counts = app.Table("optimizer-feedback", default=str, key_type=str, value_type=str,
                            partitions=FEEDBACK.partitions, extra_topic_configs={"segment.ms": str(3600 * 1000)})

# threshold: exact fast path (default); highs: LP/MILP from arrays; pyomo: the reference model (slow)
SOLVER = config.env_choice("INTERAREC_OPTIMIZER_SOLVER", "threshold", ("threshold", "highs", "pyomo"))
SOLVER_THREADS = config.env_int("INTERAREC_OPTIMIZER_SOLVER_THREADS", 2, minimum=1, maximum=64)
TIME_LIMIT_S = config.env_int("INTERAREC_OPTIMIZER_TIME_LIMIT_MS", 500, minimum=1, maximum=600_000) / 1000
LEARN_FROM_FEEDBACK = config.env_choice("INTERAREC_OPTIMIZER_FEEDBACK", "on", ("on", "off")) == "on"
