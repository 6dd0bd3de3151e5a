"""The gateway's back-pressure signal: while the summarizer's consumer group is more than
INTERAREC_GATEWAY_MAX_LAG_MESSAGES frames behind on the frames topic, new frames are refused before their
body is read with 429 `pipeline_behind` and `Retry-After` (the next lag reading), which both capture clients
honour: they keep capturing, drop their oldest queued frames (the newest wins) and send again after the wait,
instead of the pipeline building minutes of lag.

The lag is read from the broker (the group's committed offsets against the partitions' end offsets,
services/common/lag.py) on a background thread every INTERAREC_GATEWAY_LAG_INTERVAL_S. An unreadable lag
fails open: frames are never refused because the lag cannot be read."""

from __future__ import annotations

import logging
import math
import threading

from services.common.lag import LagReader, topic_lag
from services.common.topics import FRAMES

log = logging.getLogger("interarec.gateway")


def behind(lag: int | None, max_lag: int) -> bool:
    """Whether to refuse frames: a limit is set (0: off) and the last reading is over it."""
    return max_lag > 0 and lag is not None and lag > max_lag


class PipelineLag:
    def __init__(self, bootstrap: str, group: str, max_lag: int, interval_s: float):
        self.max_lag, self.interval_s = max_lag, interval_s
        self.lag: int | None = None  # the last reading; None before the first or after a failed one
        self._reader = LagReader(bootstrap, group)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-pipeline-lag", daemon=True)

    @property
    def enabled(self) -> bool:
        return self.max_lag > 0

    def retry_after_s(self) -> int | None:
        """Seconds a capture client should wait before its next frame, or None to take frames."""
        return max(1, math.ceil(self.interval_s)) if behind(self.lag, self.max_lag) else None

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._reader.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.lag = topic_lag(self._reader, FRAMES.name, FRAMES.partitions)
            except Exception as exc:  # noqa: BLE001 -- fail open, read again next time
                if self.lag is not None:
                    log.warning("frames-topic lag not readable (%r): taking frames meanwhile", exc)
                self.lag = None
                self._reader.close()
            self._stop.wait(self.interval_s)
