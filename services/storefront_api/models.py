"""Request and response schemas of the storefront API (they are its OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.http_errors import ErrorBody, ErrorDetail  # noqa: F401  (the one envelope)

FeedbackEventName = Literal["impression", "click", "add_to_cart", "purchase"]


class ItemReasonOut(BaseModel):
    matched_preferences: list[str] = Field(default_factory=list, examples=[["brand Dovetail", "colour Orange"]])
    expected_revenue_contribution: float = 0.0
    rules: list[str] = Field(default_factory=list, description="business rules that applied to this item")
    text: str = ""


class ItemOut(BaseModel):
    product_id: str = Field(examples=["P00042"])
    title: str
    brand: str
    category: str
    colour: str
    price: float
    rating: float
    choice_probability: float = Field(description="P(choose this | offered assortment) under the MNL model")
    image_url: str
    reason: ItemReasonOut | None = None


class RecommendationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "session_id": "abc123", "window_seq": 5, "items": [{
            "product_id": "P00042", "title": "Dovetail Nimbus Sunglasses N4", "brand": "Dovetail",
            "category": "Sunglasses", "colour": "White", "price": 140.0, "rating": 4.5, "choice_probability": 0.08,
            "image_url": "/images/P00042.png", "reason": {
                "matched_preferences": ["brand Dovetail"], "expected_revenue_contribution": 11.2, "rules": [],
                "text": "Dovetail Nimbus Sunglasses N4: 8.0% chance of being chosen, matches brand Dovetail"}}],
        "expected_revenue": 93.24, "no_purchase_probability": 0.61, "solver": "threshold", "solve_ms": 0.4,
        "candidates": 17, "summary": {"narrative": "Viewed 2 products, all Dovetail Sunglasses"},
        "constraints": {"brands": ["Dovetail"]}, "relaxations": [], "applied_rules": [], "shaping_constraints": [],
        "capture_unix_ms": 1790000000000, "stages": []}]})

    session_id: str
    window_seq: int
    items: list[ItemOut]
    expected_revenue: float
    no_purchase_probability: float
    solver: str
    solve_ms: float
    candidates: int
    summary: dict
    constraints: dict
    relaxations: list[dict]
    applied_rules: list[str] = Field(description="tenant business rules merged into the constraints")
    shaping_constraints: list[str] = Field(description="constraints and business rules that changed the set")
    capture_unix_ms: int
    stages: list[dict]


class HistoryOut(BaseModel):
    session_id: str
    windows: list[RecommendationOut] = Field(description="the session's recent windows, oldest first")


class TokenOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"token": "v1.eyJ0IjoiZGVtbyIsInMiOiJhYmMxMjMiLCJlIjoxNzkwMDAwOTAwfQ.c2ln", "session_id": "abc123",
         "expires_at": 1790000900}]})

    token: str = Field(description="pass as `?token=` (SSE) or `Authorization: Bearer` (feedback)")
    session_id: str
    expires_at: int = Field(description="unix seconds")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"product_id": "P00042", "event": "click", "window_seq": 5}]})

    product_id: str = Field(min_length=1, max_length=64)
    event: FeedbackEventName
    window_seq: int = Field(default=0, ge=0, le=2**63 - 1,
                            description="the recommendation window the shopper saw (0: any recent one)")


class FeedbackBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[FeedbackIn] = Field(min_length=1, max_length=100)


class FeedbackAccepted(BaseModel):
    status: Literal["accepted"]
    accepted: int


class SimilarOut(RecommendationOut):
    product_id: str


class TextQueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"query": "black trail shoes under $120", "k": 8}]})

    query: str = Field(min_length=1, max_length=200)
    k: int = Field(default=8, ge=1, le=50)


class QueryProvenance(BaseModel):
    backend: str = Field(description="what turned the query into constraints: rules, llm, vllm or embedded-image")
    model: str | None = Field(default=None, description="the served model, when the model answered")
    fallback_reason: str | None = Field(default=None, description="why the model's answer was not used")


class QueryOut(RecommendationOut, QueryProvenance):
    query: str
    ignored_words: list[str] = Field(description="words of the query not matched to the catalog")


class ImageQueryOut(RecommendationOut, QueryProvenance):
    matched_product_id: str | None = Field(description="the catalog product recognised in the image, if any")
    detected_colour: str | None = Field(description="the catalog colour closest to the image's dominant colour")


class TrendRow(BaseModel):
    views: int
    clicks: int
    score: float


class TrendingProduct(TrendRow):
    product_id: str
    title: str


class TrendingCategory(TrendRow):
    category: str


class TrendingOut(BaseModel):
    window: str
    products: list[TrendingProduct]
    categories: list[TrendingCategory]
