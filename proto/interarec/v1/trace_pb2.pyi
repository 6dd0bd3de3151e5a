from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StageSpan(_message.Message):
    __slots__ = ("stage", "start_unix_ms", "end_unix_ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    START_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    END_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    start_unix_ms: int
    end_unix_ms: int
    def __init__(self, stage: _Optional[str] = ..., start_unix_ms: _Optional[int] = ..., end_unix_ms: _Optional[int] = ...) -> None: ...

class Trace(_message.Message):
    __slots__ = ("capture_unix_ms", "stages")
    CAPTURE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    capture_unix_ms: int
    stages: _containers.RepeatedCompositeFieldContainer[StageSpan]
    def __init__(self, capture_unix_ms: _Optional[int] = ..., stages: _Optional[_Iterable[_Union[StageSpan, _Mapping]]] = ...) -> None: ...
