from interarec.v1 import summaries_pb2 as _summaries_pb2
from interarec.v1 import trace_pb2 as _trace_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Objective(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECTIVE_UNSPECIFIED: _ClassVar[Objective]
    OBJECTIVE_EXPECTED_REVENUE: _ClassVar[Objective]
    OBJECTIVE_EXPECTED_MARGIN: _ClassVar[Objective]
    OBJECTIVE_PURCHASE_PROBABILITY: _ClassVar[Objective]
    OBJECTIVE_BLEND: _ClassVar[Objective]
OBJECTIVE_UNSPECIFIED: Objective
OBJECTIVE_EXPECTED_REVENUE: Objective
OBJECTIVE_EXPECTED_MARGIN: Objective
OBJECTIVE_PURCHASE_PROBABILITY: Objective
OBJECTIVE_BLEND: Objective

class Constraints(_message.Message):
    __slots__ = ("categories", "brands", "colours", "price_min", "price_max", "min_rating", "exclude_product_ids", "exclude_brands", "include_product_ids", "max_per_brand", "min_distinct_brands", "at_least")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    BRANDS_FIELD_NUMBER: _ClassVar[int]
    COLOURS_FIELD_NUMBER: _ClassVar[int]
    PRICE_MIN_FIELD_NUMBER: _ClassVar[int]
    PRICE_MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_RATING_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_BRANDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_BRAND_FIELD_NUMBER: _ClassVar[int]
    MIN_DISTINCT_BRANDS_FIELD_NUMBER: _ClassVar[int]
    AT_LEAST_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedScalarFieldContainer[str]
    brands: _containers.RepeatedScalarFieldContainer[str]
    colours: _containers.RepeatedScalarFieldContainer[str]
    price_min: float
    price_max: float
    min_rating: float
    exclude_product_ids: _containers.RepeatedScalarFieldContainer[str]
    exclude_brands: _containers.RepeatedScalarFieldContainer[str]
    include_product_ids: _containers.RepeatedScalarFieldContainer[str]
    max_per_brand: int
    min_distinct_brands: int
    at_least: _containers.RepeatedCompositeFieldContainer[AtLeast]
    def __init__(self, categories: _Optional[_Iterable[str]] = ..., brands: _Optional[_Iterable[str]] = ..., colours: _Optional[_Iterable[str]] = ..., price_min: _Optional[float] = ..., price_max: _Optional[float] = ..., min_rating: _Optional[float] = ..., exclude_product_ids: _Optional[_Iterable[str]] = ..., exclude_brands: _Optional[_Iterable[str]] = ..., include_product_ids: _Optional[_Iterable[str]] = ..., max_per_brand: _Optional[int] = ..., min_distinct_brands: _Optional[int] = ..., at_least: _Optional[_Iterable[_Union[AtLeast, _Mapping]]] = ...) -> None: ...

class AtLeast(_message.Message):
    __slots__ = ("count", "categories", "brands", "colours", "price_min", "price_max", "min_rating")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    BRANDS_FIELD_NUMBER: _ClassVar[int]
    COLOURS_FIELD_NUMBER: _ClassVar[int]
    PRICE_MIN_FIELD_NUMBER: _ClassVar[int]
    PRICE_MAX_FIELD_NUMBER: _ClassVar[int]
    MIN_RATING_FIELD_NUMBER: _ClassVar[int]
    count: int
    categories: _containers.RepeatedScalarFieldContainer[str]
    brands: _containers.RepeatedScalarFieldContainer[str]
    colours: _containers.RepeatedScalarFieldContainer[str]
    price_min: float
    price_max: float
    min_rating: float
    def __init__(self, count: _Optional[int] = ..., categories: _Optional[_Iterable[str]] = ..., brands: _Optional[_Iterable[str]] = ..., colours: _Optional[_Iterable[str]] = ..., price_min: _Optional[float] = ..., price_max: _Optional[float] = ..., min_rating: _Optional[float] = ...) -> None: ...

class Preferences(_message.Message):
    __slots__ = ("categories", "brands", "colours", "price_anchor", "boost_product_ids", "listing_order")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    BRANDS_FIELD_NUMBER: _ClassVar[int]
    COLOURS_FIELD_NUMBER: _ClassVar[int]
    PRICE_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    BOOST_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    LISTING_ORDER_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedCompositeFieldContainer[_summaries_pb2.WeightedTerm]
    brands: _containers.RepeatedCompositeFieldContainer[_summaries_pb2.WeightedTerm]
    colours: _containers.RepeatedCompositeFieldContainer[_summaries_pb2.WeightedTerm]
    price_anchor: float
    boost_product_ids: _containers.RepeatedCompositeFieldContainer[_summaries_pb2.WeightedTerm]
    listing_order: OrderPreference
    def __init__(self, categories: _Optional[_Iterable[_Union[_summaries_pb2.WeightedTerm, _Mapping]]] = ..., brands: _Optional[_Iterable[_Union[_summaries_pb2.WeightedTerm, _Mapping]]] = ..., colours: _Optional[_Iterable[_Union[_summaries_pb2.WeightedTerm, _Mapping]]] = ..., price_anchor: _Optional[float] = ..., boost_product_ids: _Optional[_Iterable[_Union[_summaries_pb2.WeightedTerm, _Mapping]]] = ..., listing_order: _Optional[_Union[OrderPreference, _Mapping]] = ...) -> None: ...

class OrderPreference(_message.Message):
    __slots__ = ("order", "weight")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    order: _summaries_pb2.SortOrder
    weight: float
    def __init__(self, order: _Optional[_Union[_summaries_pb2.SortOrder, str]] = ..., weight: _Optional[float] = ...) -> None: ...

class Relaxation(_message.Message):
    __slots__ = ("constraint", "reason")
    CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    constraint: str
    reason: str
    def __init__(self, constraint: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class OptimizationRequest(_message.Message):
    __slots__ = ("session_id", "tenant", "window_seq", "k", "objective", "constraints", "preferences", "relaxations", "backend", "summary", "trace", "revenue_weight", "applied_rules", "prompt_version", "model", "fallback_reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SEQ_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    RELAXATIONS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    REVENUE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_RULES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tenant: str
    window_seq: int
    k: int
    objective: Objective
    constraints: Constraints
    preferences: Preferences
    relaxations: _containers.RepeatedCompositeFieldContainer[Relaxation]
    backend: str
    summary: _summaries_pb2.BehaviourSummary
    trace: _trace_pb2.Trace
    revenue_weight: float
    applied_rules: _containers.RepeatedScalarFieldContainer[str]
    prompt_version: str
    model: str
    fallback_reason: str
    def __init__(self, session_id: _Optional[str] = ..., tenant: _Optional[str] = ..., window_seq: _Optional[int] = ..., k: _Optional[int] = ..., objective: _Optional[_Union[Objective, str]] = ..., constraints: _Optional[_Union[Constraints, _Mapping]] = ..., preferences: _Optional[_Union[Preferences, _Mapping]] = ..., relaxations: _Optional[_Iterable[_Union[Relaxation, _Mapping]]] = ..., backend: _Optional[str] = ..., summary: _Optional[_Union[_summaries_pb2.BehaviourSummary, _Mapping]] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ..., revenue_weight: _Optional[float] = ..., applied_rules: _Optional[_Iterable[str]] = ..., prompt_version: _Optional[str] = ..., model: _Optional[str] = ..., fallback_reason: _Optional[str] = ...) -> None: ...
