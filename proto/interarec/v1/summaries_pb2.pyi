from interarec.v1 import trace_pb2 as _trace_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SortOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SORT_ORDER_UNSPECIFIED: _ClassVar[SortOrder]
    SORT_ORDER_RELEVANCE: _ClassVar[SortOrder]
    SORT_ORDER_RATING_DESC: _ClassVar[SortOrder]
    SORT_ORDER_PRICE_ASC: _ClassVar[SortOrder]
    SORT_ORDER_PRICE_DESC: _ClassVar[SortOrder]
    SORT_ORDER_NEWEST: _ClassVar[SortOrder]
SORT_ORDER_UNSPECIFIED: SortOrder
SORT_ORDER_RELEVANCE: SortOrder
SORT_ORDER_RATING_DESC: SortOrder
SORT_ORDER_PRICE_ASC: SortOrder
SORT_ORDER_PRICE_DESC: SortOrder
SORT_ORDER_NEWEST: SortOrder

class WeightedTerm(_message.Message):
    __slots__ = ("value", "weight")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    value: str
    weight: float
    def __init__(self, value: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class PriceRange(_message.Message):
    __slots__ = ("low", "high", "currency")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    currency: str
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., currency: _Optional[str] = ...) -> None: ...

class UiFilter(_message.Message):
    __slots__ = ("field", "value", "price_low", "price_high")
    class Field(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        FIELD_UNSPECIFIED: _ClassVar[UiFilter.Field]
        FIELD_BRAND: _ClassVar[UiFilter.Field]
        FIELD_COLOUR: _ClassVar[UiFilter.Field]
        FIELD_CATEGORY: _ClassVar[UiFilter.Field]
        FIELD_PRICE: _ClassVar[UiFilter.Field]
    FIELD_UNSPECIFIED: UiFilter.Field
    FIELD_BRAND: UiFilter.Field
    FIELD_COLOUR: UiFilter.Field
    FIELD_CATEGORY: UiFilter.Field
    FIELD_PRICE: UiFilter.Field
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PRICE_LOW_FIELD_NUMBER: _ClassVar[int]
    PRICE_HIGH_FIELD_NUMBER: _ClassVar[int]
    field: UiFilter.Field
    value: str
    price_low: float
    price_high: float
    def __init__(self, field: _Optional[_Union[UiFilter.Field, str]] = ..., value: _Optional[str] = ..., price_low: _Optional[float] = ..., price_high: _Optional[float] = ...) -> None: ...

class ReviewSignal(_message.Message):
    __slots__ = ("min_rating_viewed", "mean_rating_viewed", "read_reviews")
    MIN_RATING_VIEWED_FIELD_NUMBER: _ClassVar[int]
    MEAN_RATING_VIEWED_FIELD_NUMBER: _ClassVar[int]
    READ_REVIEWS_FIELD_NUMBER: _ClassVar[int]
    min_rating_viewed: float
    mean_rating_viewed: float
    read_reviews: bool
    def __init__(self, min_rating_viewed: _Optional[float] = ..., mean_rating_viewed: _Optional[float] = ..., read_reviews: _Optional[bool] = ...) -> None: ...

class ViewedProduct(_message.Message):
    __slots__ = ("product_id", "title", "brand", "category", "colour", "price", "frames", "confidence")
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COLOUR_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    product_id: str
    title: str
    brand: str
    category: str
    colour: str
    price: float
    frames: int
    confidence: float
    def __init__(self, product_id: _Optional[str] = ..., title: _Optional[str] = ..., brand: _Optional[str] = ..., category: _Optional[str] = ..., colour: _Optional[str] = ..., price: _Optional[float] = ..., frames: _Optional[int] = ..., confidence: _Optional[float] = ...) -> None: ...

class BehaviourSummary(_message.Message):
    __slots__ = ("session_id", "tenant", "window_seq", "product_types", "price_range", "brands", "colours", "specifications", "reviews", "comparisons", "promotions", "viewed_products", "search_queries", "narrative", "backend", "frames_in_window", "frames_dropped_duplicate", "window_close_reason", "trace", "frame_offsets", "frames_partition", "frames_skipped_stale", "prompt_version", "model", "fallback_reason", "grounding_notes", "ui_filters", "ui_filters_category", "seen_product_ids", "ui_filter_fields", "listing_sort_order")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SEQ_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PRICE_RANGE_FIELD_NUMBER: _ClassVar[int]
    BRANDS_FIELD_NUMBER: _ClassVar[int]
    COLOURS_FIELD_NUMBER: _ClassVar[int]
    SPECIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    COMPARISONS_FIELD_NUMBER: _ClassVar[int]
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    VIEWED_PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_QUERIES_FIELD_NUMBER: _ClassVar[int]
    NARRATIVE_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    FRAMES_IN_WINDOW_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    FRAME_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_PARTITION_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SKIPPED_STALE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    GROUNDING_NOTES_FIELD_NUMBER: _ClassVar[int]
    UI_FILTERS_FIELD_NUMBER: _ClassVar[int]
    UI_FILTERS_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SEEN_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    UI_FILTER_FIELDS_FIELD_NUMBER: _ClassVar[int]
    LISTING_SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    tenant: str
    window_seq: int
    product_types: _containers.RepeatedCompositeFieldContainer[WeightedTerm]
    price_range: PriceRange
    brands: _containers.RepeatedCompositeFieldContainer[WeightedTerm]
    colours: _containers.RepeatedCompositeFieldContainer[WeightedTerm]
    specifications: _containers.RepeatedCompositeFieldContainer[WeightedTerm]
    reviews: ReviewSignal
    comparisons: _containers.RepeatedScalarFieldContainer[str]
    promotions: _containers.RepeatedScalarFieldContainer[str]
    viewed_products: _containers.RepeatedCompositeFieldContainer[ViewedProduct]
    search_queries: _containers.RepeatedScalarFieldContainer[str]
    narrative: str
    backend: str
    frames_in_window: int
    frames_dropped_duplicate: int
    window_close_reason: str
    trace: _trace_pb2.Trace
    frame_offsets: _containers.RepeatedScalarFieldContainer[int]
    frames_partition: int
    frames_skipped_stale: int
    prompt_version: str
    model: str
    fallback_reason: str
    grounding_notes: _containers.RepeatedScalarFieldContainer[str]
    ui_filters: _containers.RepeatedScalarFieldContainer[str]
    ui_filters_category: str
    seen_product_ids: _containers.RepeatedScalarFieldContainer[str]
    ui_filter_fields: _containers.RepeatedCompositeFieldContainer[UiFilter]
    listing_sort_order: SortOrder
    def __init__(self, session_id: _Optional[str] = ..., tenant: _Optional[str] = ..., window_seq: _Optional[int] = ..., product_types: _Optional[_Iterable[_Union[WeightedTerm, _Mapping]]] = ..., price_range: _Optional[_Union[PriceRange, _Mapping]] = ..., brands: _Optional[_Iterable[_Union[WeightedTerm, _Mapping]]] = ..., colours: _Optional[_Iterable[_Union[WeightedTerm, _Mapping]]] = ..., specifications: _Optional[_Iterable[_Union[WeightedTerm, _Mapping]]] = ..., reviews: _Optional[_Union[ReviewSignal, _Mapping]] = ..., comparisons: _Optional[_Iterable[str]] = ..., promotions: _Optional[_Iterable[str]] = ..., viewed_products: _Optional[_Iterable[_Union[ViewedProduct, _Mapping]]] = ..., search_queries: _Optional[_Iterable[str]] = ..., narrative: _Optional[str] = ..., backend: _Optional[str] = ..., frames_in_window: _Optional[int] = ..., frames_dropped_duplicate: _Optional[int] = ..., window_close_reason: _Optional[str] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ..., frame_offsets: _Optional[_Iterable[int]] = ..., frames_partition: _Optional[int] = ..., frames_skipped_stale: _Optional[int] = ..., prompt_version: _Optional[str] = ..., model: _Optional[str] = ..., fallback_reason: _Optional[str] = ..., grounding_notes: _Optional[_Iterable[str]] = ..., ui_filters: _Optional[_Iterable[str]] = ..., ui_filters_category: _Optional[str] = ..., seen_product_ids: _Optional[_Iterable[str]] = ..., ui_filter_fields: _Optional[_Iterable[_Union[UiFilter, _Mapping]]] = ..., listing_sort_order: _Optional[_Union[SortOrder, str]] = ...) -> None: ...
