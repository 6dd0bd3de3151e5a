from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeedbackEvent(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEEDBACK_EVENT_UNSPECIFIED: _ClassVar[FeedbackEvent]
    FEEDBACK_EVENT_IMPRESSION: _ClassVar[FeedbackEvent]
    FEEDBACK_EVENT_CLICK: _ClassVar[FeedbackEvent]
    FEEDBACK_EVENT_ADD_TO_CART: _ClassVar[FeedbackEvent]
    FEEDBACK_EVENT_PURCHASE: _ClassVar[FeedbackEvent]
FEEDBACK_EVENT_UNSPECIFIED: FeedbackEvent
FEEDBACK_EVENT_IMPRESSION: FeedbackEvent
FEEDBACK_EVENT_CLICK: FeedbackEvent
FEEDBACK_EVENT_ADD_TO_CART: FeedbackEvent
FEEDBACK_EVENT_PURCHASE: FeedbackEvent

class Feedback(_message.Message):
    __slots__ = ("session_id", "tenant", "window_seq", "product_id", "event", "event_unix_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SEQ_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tenant: str
    window_seq: int
    product_id: str
    event: FeedbackEvent
    event_unix_ms: int
    def __init__(self, session_id: _Optional[str] = ..., tenant: _Optional[str] = ..., window_seq: _Optional[int] = ..., product_id: _Optional[str] = ..., event: _Optional[_Union[FeedbackEvent, str]] = ..., event_unix_ms: _Optional[int] = ...) -> None: ...
