"""Requests the storefront answers in-process (similar products, text and image queries) go through the
same path as the pipeline: rule repair and validation (core/decompose/repair.py), the tenant's business
rules merged as constraints, and the one Recommendation builder (core/assortment/recommendation.py) the
optimizer uses too. Pure, CPU-bound: call it off the event loop."""

from __future__ import annotations

from interarec.v1 import optimization_pb2, recommendations_pb2
from services.common.catalog import Catalog
from services.core import business_rules
from services.core.assortment.recommendation import build_recommendation
from services.core.decompose.repair import repair_request, validate_request


class InvalidRequest(ValueError):
    """The request cannot be satisfied (e.g. fewer candidates than asked for); the message says why."""


def solve(catalog: Catalog, request: optimization_pb2.OptimizationRequest,
          rules: tuple[business_rules.Rule, ...] = (), solver: str = "threshold",
          time_limit_s: float | None = None, image_base: str = "") -> recommendations_pb2.Recommendation:
    repair_request(request, catalog)
    problems = validate_request(request, catalog)
    if problems:
        raise InvalidRequest("; ".join(problems))
    business_rules.merge(request, rules)
    return build_recommendation(catalog, request, rules, solver=solver, time_limit_s=time_limit_s,
                                image_base=image_base)
