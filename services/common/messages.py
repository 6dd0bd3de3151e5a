"""Protobuf encode/decode with clear errors, and trace helpers shared by every stage."""

from __future__ import annotations

import time
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from interarec.v1 import trace_pb2

M = TypeVar("M", bound=Message)


class BadMessage(ValueError):
    """A message could not be decoded or is missing required fields; it belongs in the dead-letter topic."""


def now_ms() -> int:
    return int(time.time() * 1000)


def decode(message_cls: type[M], data: bytes | None, *, require_session: bool = True) -> M:
    if not data:
        raise BadMessage(f"empty {message_cls.__name__} payload")
    msg = message_cls()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise BadMessage(f"not a valid {message_cls.__name__}: {exc}") from exc
    if require_session and not getattr(msg, "session_id", ""):
        raise BadMessage(f"{message_cls.__name__} has no session_id")
    return msg


def add_span(trace: trace_pb2.Trace, stage: str, start_ms: int, end_ms: int | None = None) -> None:
    trace.stages.add(stage=stage, start_unix_ms=start_ms, end_unix_ms=end_ms if end_ms is not None else now_ms())
