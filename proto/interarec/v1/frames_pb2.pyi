from interarec.v1 import trace_pb2 as _trace_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FrameControl(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FRAME_CONTROL_NONE: _ClassVar[FrameControl]
    FRAME_CONTROL_TICK: _ClassVar[FrameControl]
FRAME_CONTROL_NONE: FrameControl
FRAME_CONTROL_TICK: FrameControl

class Frame(_message.Message):
    __slots__ = ("session_id", "tenant", "frame_seq", "capture_unix_ms", "page_url", "page_title", "mime_type", "image", "width", "height", "sha256", "trace", "control")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FRAME_SEQ_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PAGE_URL_FIELD_NUMBER: _ClassVar[int]
    PAGE_TITLE_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tenant: str
    frame_seq: int
    capture_unix_ms: int
    page_url: str
    page_title: str
    mime_type: str
    image: bytes
    width: int
    height: int
    sha256: str
    trace: _trace_pb2.Trace
    control: FrameControl
    def __init__(self, session_id: _Optional[str] = ..., tenant: _Optional[str] = ..., frame_seq: _Optional[int] = ..., capture_unix_ms: _Optional[int] = ..., page_url: _Optional[str] = ..., page_title: _Optional[str] = ..., mime_type: _Optional[str] = ..., image: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., sha256: _Optional[str] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ..., control: _Optional[_Union[FrameControl, str]] = ...) -> None: ...
