"""Build dead-letter records: the original bytes kept whole, plus where and why processing failed."""

from __future__ import annotations

from interarec.v1 import dead_letters_pb2
from services.common.messages import now_ms


def dead_letter(*, source_topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                stage: str, error: BaseException, session_id: str = "") -> dead_letters_pb2.DeadLetter:
    return dead_letters_pb2.DeadLetter(
        source_topic=source_topic, partition=partition, offset=offset, key=key or b"", value=value or b"",
        stage=stage, error_type=type(error).__name__, error_message=str(error)[:2000],
        failed_unix_ms=now_ms(), session_id=session_id or (key or b"").decode("utf-8", "replace"),
    )
