"""The gateway's answers on success, validated by FastAPI against these models (errors use the shared
envelope, services/common/http_errors.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FrameAccepted(BaseModel):
    """202: the frame is on the frames topic (acknowledged by every in-sync replica)."""

    status: Literal["accepted"] = "accepted"
    frame_seq: int = Field(ge=0, examples=[7])
    partition: int = Field(ge=0, examples=[2])
    offset: int = Field(ge=0, examples=[1041])
    bytes: int = Field(ge=0, description="size of the frame as written to the topic", examples=[48211])


class FrameDuplicate(BaseModel):
    """200: an exact repeat of one of the session's recent frames, dropped (nothing written)."""

    status: Literal["duplicate"] = "duplicate"
    frame_seq: int = Field(ge=0)
