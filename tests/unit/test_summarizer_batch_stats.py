"""The summarizer's batch log: one line per period saying where a latest-wins worker's time went."""

from __future__ import annotations

from services.summarizer.batch_stats import BatchLog, BatchStats


def test_batches_are_summed_over_a_period_and_reported_once_it_has_passed() -> None:
    log = BatchLog(period_s=10.0)
    full = BatchStats(batches=1, records=32, full=1, reads=3, skips=28, holds=1, read_s=0.9, skip_s=0.05,
                      plan_s=0.01, batch_s=1.0, max_lag_ms=2_400)
    assert log.add(full, now_s=100.0) is None
    assert log.add(BatchStats(batches=1, records=8, reads=2, read_s=0.5, batch_s=0.5, max_lag_ms=900), 104.0) is None
    line = log.add(BatchStats(batches=1, records=9, backlog=1, reads=9, read_s=2.9, batch_s=3.0, planned_s=1.5,
                              ocr_reads=6, decode_s=0.3, ocr_s=1.8, emit_s=0.6, save_s=0.03, revisits=2,
                              revisit_s=0.45), now_s=110.0)
    assert line == ("latest wins over 10 s: 3 batches (1 full, 1 as a backlog), 16.3 records a batch, 14 read / "
                    "28 skipped / 1 held; per batch 1.50 s: reads 1.43 s, skips 0.017 s, plan 0.003 s; busy 45%, "
                    "lag at most 2.4 s; reads planned 0.50 s a batch, spent on decode 0.10 s, OCR 0.60 s (6 OCR'd), "
                    "summaries' send 0.20 s, saves 0.010 s; 2 reads of a visit already read, 0.15 s")
    # the next period starts afresh
    assert log.add(BatchStats(batches=1, records=1, batch_s=0.1), now_s=111.0) is None
    assert "1 batches" in (log.add(BatchStats(), now_s=121.0) or "")
