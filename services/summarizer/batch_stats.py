"""Where a latest-wins worker's time goes (pure, no I/O): what its lookahead batches held and cost, summed over a
period, so that one log line every few seconds says why it fell behind (too many reads per batch, skips too
costly, batches too small to keep up with the frames arriving) without a line per batch."""

from __future__ import annotations

from dataclasses import dataclass, fields

# Seconds between two summaries of the batches (only when there were any).
PERIOD_S = 10.0


@dataclass
class BatchStats:
    """Sums over the batches since the last report. Times in seconds, the lag in ms."""

    batches: int = 0
    records: int = 0  # records taken, the held ones included
    full: int = 0  # batches that filled the whole lookahead (more was probably waiting)
    reads: int = 0
    skips: int = 0  # skipped for good (superseded or shed)
    holds: int = 0  # held for the session's turn in the next batch
    backlog: int = 0  # batches planned as an outage's backlog (every session's newest read, no turns)
    read_s: float = 0.0
    skip_s: float = 0.0
    plan_s: float = 0.0
    batch_s: float = 0.0
    max_lag_ms: float = 0.0
    # What the reads' time went on, against what the plan expected of them (the overshoot of a batch's target):
    planned_s: float = 0.0  # the plan's estimate: each kept frame at the measured read cost (a visit read: free)
    ocr_reads: int = 0  # reads that went through OCR (distinct frames); the rest were near-duplicates
    decode_s: float = 0.0  # decode and perceptual hash, every read
    ocr_s: float = 0.0
    emit_s: float = 0.0  # closed windows' summaries: send and wait for the broker's ack
    save_s: float = 0.0  # the session's state written to the table
    revisits: int = 0  # reads of a page visit already read (a scrolled view): the plan counts the first one free
    revisit_s: float = 0.0

    def add(self, other: BatchStats) -> None:
        for f in fields(self):
            if f.name == "max_lag_ms":
                self.max_lag_ms = max(self.max_lag_ms, other.max_lag_ms)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def line(self, period_s: float) -> str:
        """One line for the log: per batch and per second of the period."""
        n = max(self.batches, 1)
        return (f"latest wins over {period_s:.0f} s: {self.batches} batches ({self.full} full, {self.backlog} as a "
                f"backlog), {self.records / n:.1f} records a batch, {self.reads} read / {self.skips} skipped / "
                f"{self.holds} held; per batch {self.batch_s / n:.2f} s: reads {self.read_s / n:.2f} s, skips "
                f"{self.skip_s / n:.3f} s, plan {self.plan_s / n:.3f} s; busy {self.batch_s / period_s:.0%}, "
                f"lag at most {self.max_lag_ms / 1000:.1f} s; reads planned {self.planned_s / n:.2f} s a batch, spent "
                f"on decode {self.decode_s / n:.2f} s, OCR {self.ocr_s / n:.2f} s ({self.ocr_reads} OCR'd), "
                f"summaries' send {self.emit_s / n:.2f} s, saves {self.save_s / n:.3f} s; {self.revisits} reads of a "
                f"visit already read, {self.revisit_s / n:.2f} s")


class BatchLog:
    """Collects each batch's stats and hands back a line once a period has passed since the first one."""

    def __init__(self, period_s: float = PERIOD_S):
        self.period_s = period_s
        self.since: float | None = None
        self.total = BatchStats()

    def add(self, stats: BatchStats, now_s: float) -> str | None:
        if self.since is None:
            self.since = now_s
        self.total.add(stats)
        elapsed = now_s - self.since
        if elapsed < self.period_s:
            return None
        line = self.total.line(elapsed)
        self.since, self.total = now_s, BatchStats()
        return line
