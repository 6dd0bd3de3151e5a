"""Requests the storefront answers in-process (similar products, text and image queries) go through the
same path as the pipeline: rule repair and validation (decomposer/rules.py), the tenant's business rules
merged as constraints, the MNL optimizer (optimizer/mnl.py), and a reason per item. Pure, CPU-bound:
call it off the event loop."""

from __future__ import annotations

import math

from interarec.v1 import optimization_pb2, recommendations_pb2
from services.common import business_rules
from services.common.catalog import Catalog
from services.decomposer.rules import repair_request, validate_request
from services.optimizer.mnl import recommend

PRICE_NEAR = 0.25  # within 25 % of the price anchor counts as "price near"


class InvalidRequest(ValueError):
    """The request cannot be satisfied (e.g. fewer candidates than asked for); the message says why."""


def solve(catalog: Catalog, request: optimization_pb2.OptimizationRequest,
          rules: tuple[business_rules.Rule, ...] = (), solver: str = "threshold") -> recommendations_pb2.Recommendation:
    repair_request(request, catalog)
    problems = validate_request(request, catalog)
    if problems:
        raise InvalidRequest("; ".join(problems))
    business_rules.merge(request, rules)

    def chosen_ids(req: optimization_pb2.OptimizationRequest) -> list[str]:
        found, candidates = recommend(catalog, req, solver=solver)
        return [catalog.products[i].product_id for i in found.catalog_indices(candidates)]

    assortment, candidates = recommend(catalog, request, solver=solver)
    rows = assortment.catalog_indices(candidates)
    rec = recommendations_pb2.Recommendation(
        session_id=request.session_id, tenant=request.tenant, window_seq=request.window_seq,
        expected_revenue=assortment.expected_revenue, no_purchase_probability=assortment.no_purchase_probability,
        solver=assortment.solver, solve_ms=assortment.solve_ms, candidates=len(candidates), request=request,
        solve_status="optimal",
    )
    changed = business_rules.rules_that_changed(request, rules, chosen_ids)
    rec.shaping_constraints.extend(f"rule {name}" for name in changed)
    for row, prob in zip(rows, assortment.choice_probabilities, strict=True):
        p = catalog.products[row]
        item = rec.items.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category,
                             colour=p.colour, price=p.price, rating=p.rating, choice_probability=float(prob),
                             image_url=f"/images/{p.image}")
        item.reason.CopyFrom(item_reason(p, float(prob), request, rules))
    return rec


def item_reason(product, probability: float, request: optimization_pb2.OptimizationRequest,
                rules: tuple[business_rules.Rule, ...]) -> recommendations_pb2.ItemReason:
    prefs = request.preferences
    matched = []
    for noun, terms, value in (("category", prefs.categories, product.category),
                               ("brand", prefs.brands, product.brand), ("colour", prefs.colours, product.colour)):
        if any(t.value.casefold() == value.casefold() and t.weight > 0 for t in terms):
            matched.append(f"{noun} {value}")
    if prefs.HasField("price_anchor") and prefs.price_anchor > 0 \
            and abs(math.log(product.price / prefs.price_anchor)) <= math.log1p(PRICE_NEAR):
        matched.append(f"price near ${prefs.price_anchor:,.2f}")
    revenue = product.price * (product.margin if request.objective == optimization_pb2.OBJECTIVE_EXPECTED_MARGIN
                               else 1.0)
    applied = [r for r in rules if r.name in request.applied_rules and (
        product.product_id in r.products or any(pid == product.product_id for pid, _ in r.boosts)
        or r.kind == "max_per_brand")]
    rule_names = [r.name for r in applied]
    text = f"{product.title}: {probability:.1%} chance of being chosen"
    if matched:
        text += ", matches " + ", ".join(matched)
    if rule_names:
        text += "; business rules: " + ", ".join(rule_names)
    return recommendations_pb2.ItemReason(matched_preferences=matched, rules=rule_names, text=text,
                                          expected_revenue_contribution=revenue * probability)
