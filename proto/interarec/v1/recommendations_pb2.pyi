from interarec.v1 import optimization_pb2 as _optimization_pb2
from interarec.v1 import trace_pb2 as _trace_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemReason(_message.Message):
    __slots__ = ("matched_preferences", "expected_revenue_contribution", "rules", "text")
    MATCHED_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVENUE_CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    matched_preferences: _containers.RepeatedScalarFieldContainer[str]
    expected_revenue_contribution: float
    rules: _containers.RepeatedScalarFieldContainer[str]
    text: str
    def __init__(self, matched_preferences: _Optional[_Iterable[str]] = ..., expected_revenue_contribution: _Optional[float] = ..., rules: _Optional[_Iterable[str]] = ..., text: _Optional[str] = ...) -> None: ...

class RecommendedProduct(_message.Message):
    __slots__ = ("product_id", "title", "brand", "category", "colour", "price", "rating", "choice_probability", "image_url", "reason")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    CHOICE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    title: str
    brand: str
    category: str
    colour: str
    price: float
    rating: float
    choice_probability: float
    image_url: str
    reason: ItemReason
    def __init__(self, product_id: _Optional[str] = ..., title: _Optional[str] = ..., brand: _Optional[str] = ..., category: _Optional[str] = ..., colour: _Optional[str] = ..., price: _Optional[float] = ..., rating: _Optional[float] = ..., choice_probability: _Optional[float] = ..., image_url: _Optional[str] = ..., reason: _Optional[_Union[ItemReason, _Mapping]] = ...) -> None: ...

class Recommendation(_message.Message):
    __slots__ = ("session_id", "tenant", "window_seq", "items", "expected_revenue", "no_purchase_probability", "solver", "solve_ms", "candidates", "request", "trace", "shaping_constraints", "solve_status")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SEQ_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVENUE_FIELD_NUMBER: _ClassVar[int]
    NO_PURCHASE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    SOLVE_MS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    SHAPING_CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    SOLVE_STATUS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tenant: str
    window_seq: int
    items: _containers.RepeatedCompositeFieldContainer[RecommendedProduct]
    expected_revenue: float
    no_purchase_probability: float
    solver: str
    solve_ms: float
    candidates: int
    request: _optimization_pb2.OptimizationRequest
    trace: _trace_pb2.Trace
    shaping_constraints: _containers.RepeatedScalarFieldContainer[str]
    solve_status: str
    def __init__(self, session_id: _Optional[str] = ..., tenant: _Optional[str] = ..., window_seq: _Optional[int] = ..., items: _Optional[_Iterable[_Union[RecommendedProduct, _Mapping]]] = ..., expected_revenue: _Optional[float] = ..., no_purchase_probability: _Optional[float] = ..., solver: _Optional[str] = ..., solve_ms: _Optional[float] = ..., candidates: _Optional[int] = ..., request: _Optional[_Union[_optimization_pb2.OptimizationRequest, _Mapping]] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ..., shaping_constraints: _Optional[_Iterable[str]] = ..., solve_status: _Optional[str] = ...) -> None: ...
