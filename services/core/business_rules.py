"""Per-tenant business rules, merged into an OptimizationRequest as optimizer constraints (pure).

Rules never edit the optimizer's output afterwards: they become hard constraints (exclude products or
brands, pin products, cap items per brand) or soft preferences (boost products) of the request, and the
optimizer solves with them. Each rule merged is named in `applied_rules`; `rules_that_changed` names the
ones that actually changed the assortment (leave-one-out re-solves), for the explanation.

INTERAREC_BUSINESS_RULES_FILE holds JSON: {"<tenant>": [{"name": "...", <one kind>: <value>}, ...]}, kinds:
  "exclude_products": ["P00012", ...]    never recommend these
  "exclude_brands":   ["Zenith", ...]    never recommend these brands
  "pin_products":     ["P00003", ...]    always include these (when they satisfy the other constraints)
  "boost_products":   {"P00007": 0.5}   raise these products' preference weight (0..1]
  "max_per_brand":    2                  at most this many items of one brand
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interarec.v1 import optimization_pb2
from services.common import config
from services.common.keys import check_tenant
from services.common.settings import setting
from services.core.assortment.mnl import recommend

KINDS = ("exclude_products", "exclude_brands", "pin_products", "boost_products", "max_per_brand")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    products: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    boosts: tuple[tuple[str, float], ...] = ()
    cap: int = 0


def _strings(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(x, str) and x for x in value):
        raise config.ConfigError(f"{where} must be a non-empty list of strings")
    return tuple(value)


def parse_rule(raw, where: str) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise config.ConfigError(f"{where} must be an object with a non-empty \"name\"")
    kinds = [k for k in raw if k != "name"]
    if len(kinds) != 1 or kinds[0] not in KINDS:
        raise config.ConfigError(f"{where} ({raw['name']!r}) must have exactly one of {', '.join(KINDS)}")
    name, kind, value = raw["name"].strip(), kinds[0], raw[kinds[0]]
    where = f"{where} ({name!r}).{kind}"
    if kind in ("exclude_products", "pin_products"):
        return Rule(name, kind, products=_strings(value, where))
    if kind == "exclude_brands":
        return Rule(name, kind, brands=_strings(value, where))
    if kind == "boost_products":
        if not isinstance(value, dict) or not value or not all(
                isinstance(w, int | float) and 0 < w <= 1 for w in value.values()):
            raise config.ConfigError(f"{where} must map product ids to weights in (0, 1]")
        return Rule(name, kind, boosts=tuple((str(p), float(w)) for p, w in value.items()))
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise config.ConfigError(f"{where} must be a positive integer")
    return Rule(name, kind, cap=value)


def parse_rules(document, where: str = "business rules") -> dict[str, tuple[Rule, ...]]:
    if not isinstance(document, dict):
        raise config.ConfigError(f"{where} must be a JSON object mapping tenants to lists of rules")
    out: dict[str, tuple[Rule, ...]] = {}
    for tenant, rules in document.items():
        try:
            check_tenant(tenant)
        except ValueError as exc:
            raise config.ConfigError(f"{where}: {exc}") from None
        if not isinstance(rules, list):
            raise config.ConfigError(f"{where}: rules of tenant {tenant!r} must be a list")
        parsed = tuple(parse_rule(r, f"{where}: {tenant}[{i}]") for i, r in enumerate(rules))
        names = [r.name for r in parsed]
        if len(set(names)) != len(names):
            raise config.ConfigError(f"{where}: tenant {tenant!r} has two rules with the same name")
        out[tenant] = parsed
    return out


def rules_setting() -> Any:
    """The one declaration of INTERAREC_BUSINESS_RULES_FILE (the optimizer's and the storefront's settings):
    the file is read and checked when the settings are."""
    return setting("INTERAREC_BUSINESS_RULES_FILE", dict, "per-tenant business rules (JSON, see above)",
                   default_doc="none", parse=load)


def load(path: str) -> dict[str, tuple[Rule, ...]]:
    """Rules per tenant from the JSON file at `path` (INTERAREC_BUSINESS_RULES_FILE); none for ''."""
    if not path:
        return {}
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise config.ConfigError(f"INTERAREC_BUSINESS_RULES_FILE={path!r} is not readable JSON: {exc}") from None
    return parse_rules(document, "INTERAREC_BUSINESS_RULES_FILE")


def check_against_catalog(rules_by_tenant: dict[str, tuple[Rule, ...]], catalog) -> None:
    """A rule naming a product or brand the catalog does not have is a typo that would silently do nothing:
    refuse to start instead."""
    brands = set(catalog.brands)
    for tenant, rules in rules_by_tenant.items():
        for rule in rules:
            unknown = [p for p in (*rule.products, *(pid for pid, _ in rule.boosts)) if p not in catalog.by_id]
            unknown += [b for b in rule.brands if b not in brands]
            if unknown:
                raise config.ConfigError(f"business rule {rule.name!r} of tenant {tenant!r} names what the catalog "
                                         f"does not have: {', '.join(unknown[:5])}")


def merge(request: optimization_pb2.OptimizationRequest, rules: Iterable[Rule]) -> optimization_pb2.OptimizationRequest:
    """Merge rules into the request's constraints and preferences, in place (and return it). Idempotent:
    a rule already listed in applied_rules is not merged twice (at-least-once redelivery)."""
    c, p = request.constraints, request.preferences
    for rule in rules:
        if rule.name in request.applied_rules:
            continue
        if rule.kind == "exclude_products":
            c.exclude_product_ids.extend(x for x in rule.products if x not in c.exclude_product_ids)
        elif rule.kind == "exclude_brands":
            c.exclude_brands.extend(x for x in rule.brands if x not in c.exclude_brands)
        elif rule.kind == "pin_products":
            c.include_product_ids.extend(x for x in rule.products if x not in c.include_product_ids)
        elif rule.kind == "boost_products":
            for pid, weight in rule.boosts:
                p.boost_product_ids.add(value=pid, weight=weight)
        elif rule.kind == "max_per_brand":
            c.max_per_brand = min(c.max_per_brand, rule.cap) if c.HasField("max_per_brand") else rule.cap
        request.applied_rules.append(rule.name)
    return request


def apply_for_tenant(request: optimization_pb2.OptimizationRequest,
                     rules_by_tenant: dict[str, tuple[Rule, ...]]) -> optimization_pb2.OptimizationRequest:
    """The optimizer's entry point: merge the request's tenant's rules (none for an unknown tenant)."""
    return merge(request, rules_by_tenant.get(request.tenant, ()))


def rules_that_changed(
    request: optimization_pb2.OptimizationRequest,
    rules: Iterable[Rule],
    solve: Callable[[optimization_pb2.OptimizationRequest], list[str]],
) -> list[str]:
    """Names of the applied rules without which the assortment would differ (leave-one-out).

    `request` carries the merged rules' effects in its constraints, so each rule is left out by rebuilding
    the request from its rule-free base plus the other rules. `solve` returns chosen product ids; every
    variant, and the full request itself, goes through the same `solve`, so solver tie-breaks cancel out."""
    applied = [r for r in rules if r.name in request.applied_rules]
    if not applied:
        return []
    base = _without_rules(request, applied)
    chosen = solve(request)
    changed = []
    for rule in applied:
        others = [r for r in applied if r is not rule]
        variant = merge(_copy(base), others)
        if set(solve(variant)) != set(chosen):
            changed.append(rule.name)
    return changed


def _copy(request: optimization_pb2.OptimizationRequest) -> optimization_pb2.OptimizationRequest:
    out = optimization_pb2.OptimizationRequest()
    out.CopyFrom(request)
    return out


def _without_rules(request: optimization_pb2.OptimizationRequest, applied: list[Rule]
                   ) -> optimization_pb2.OptimizationRequest:
    """The request as it was before `merge`: remove every value the rules added (values the request had
    itself are indistinguishable and stay, which only makes the attribution conservative)."""
    base = _copy(request)
    c, p = base.constraints, base.preferences
    drop_products = {x for r in applied if r.kind == "exclude_products" for x in r.products}
    drop_brands = {x for r in applied if r.kind == "exclude_brands" for x in r.brands}
    drop_pins = {x for r in applied if r.kind == "pin_products" for x in r.products}
    drop_boosts = {x for r in applied if r.kind == "boost_products" for x, _ in r.boosts}
    _keep(c.exclude_product_ids, drop_products)
    _keep(c.exclude_brands, drop_brands)
    _keep(c.include_product_ids, drop_pins)
    kept = [t for t in p.boost_product_ids if t.value not in drop_boosts]
    del p.boost_product_ids[:]
    p.boost_product_ids.extend(kept)
    if any(r.kind == "max_per_brand" for r in applied):
        c.ClearField("max_per_brand")
    names = {r.name for r in applied}
    kept_names = [n for n in base.applied_rules if n not in names]
    del base.applied_rules[:]
    base.applied_rules.extend(kept_names)
    return base


def _keep(field, drop: set[str]) -> None:
    kept = [x for x in field if x not in drop]
    del field[:]
    field.extend(kept)


def explain(catalog, request: optimization_pb2.OptimizationRequest, rules: Iterable[Rule]) -> list[str]:
    """rules_that_changed for `rules` (the request's tenant's), re-solving with the exact threshold search."""

    def chosen_ids(req: optimization_pb2.OptimizationRequest) -> list[str]:
        found, candidates = recommend(catalog, req, solver="threshold")
        return [catalog.products[i].product_id for i in found.catalog_indices(candidates)]

    return rules_that_changed(request, rules, chosen_ids)
