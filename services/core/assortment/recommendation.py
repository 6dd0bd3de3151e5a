"""The one place a `Recommendation` is built: the optimizer's worker and the storefront's in-process queries
(similar products, text and image queries) both call `build_recommendation`, so the two cannot drift apart
in what they report (item reasons, shaping notes, business-rule attribution, solve status, image URLs).

Pure, CPU-bound: callers run it off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from interarec.v1 import optimization_pb2, recommendations_pb2
from services.common import config
from services.common.catalog import Catalog, Product
from services.common.settings import setting
from services.core import business_rules
from services.core.assortment.mnl import Solved, explain, solve_request

IMAGE_BASE_ENV = "INTERAREC_IMAGE_BASE_URL"


def rule_note(name: str) -> str:
    """The one wording of a business rule in `shaping_constraints` and in an item's `reason.rules`."""
    return f"rule: {name}"


def parse_image_base(raw: str) -> str:
    """INTERAREC_IMAGE_BASE_URL: '' (the catalog's `image` column is used as it is), or an http(s) URL or an
    absolute path the shop serves pictures under; a missing trailing slash is added."""
    base = raw.strip()
    if not base:
        return ""
    if not base.startswith(("http://", "https://", "/")) or any(c.isspace() for c in base):
        raise config.ConfigError(f"{IMAGE_BASE_ENV} must be an http(s) URL or a path starting with '/' "
                                 f"(got {raw!r})")
    return base if base.endswith("/") else base + "/"


def image_base_setting() -> Any:
    """The one declaration of INTERAREC_IMAGE_BASE_URL, for every service that builds or serves items."""
    return setting(IMAGE_BASE_ENV, "", "prefix of item image URLs, joined to the catalog's `image` column (an "
                   "http(s) URL or a path; the local stack sets the demo shop's `/images/`)",
                   default_doc="none: the `image` column as it is", parse=parse_image_base)


def image_url(product: Product, base: str = "") -> str:
    """The picture of `product`: a catalog value that is already a URL is kept; a file name gets `base`."""
    if not product.image:
        return ""
    if product.image.startswith(("http://", "https://")):
        return product.image
    return f"{base}{product.image}"


def build_recommendation(
    catalog: Catalog,
    request: optimization_pb2.OptimizationRequest,
    rules: Iterable[business_rules.Rule] = (),
    *,
    solver: str = "threshold",
    learned: np.ndarray | None = None,
    time_limit_s: float | None = None,
    image_base: str = "",
    on_solved: Callable[[Solved], None] | None = None,
) -> recommendations_pb2.Recommendation:
    """Solve `request` (its tenant's `rules` already merged into it) and explain the answer.

    `shaping_constraints` holds what changed the set: the solver's notes (relaxed or dropped side
    constraints, exclusions, a time limit) and, as `rule: <name>`, each business rule without which the
    assortment would differ (leave-one-out, re-solved with the exact threshold search). `solve_status` is
    the solver's own status, never assumed."""
    rules = tuple(rules)
    solved = solve_request(catalog, request, solver=solver, learned=learned, time_limit_s=time_limit_s)
    if on_solved is not None:
        on_solved(solved)
    assortment, candidates = solved.assortment, solved.candidates
    rec = recommendations_pb2.Recommendation(
        session_id=request.session_id, tenant=request.tenant, window_seq=request.window_seq,
        expected_revenue=assortment.expected_revenue, no_purchase_probability=assortment.no_purchase_probability,
        solver=assortment.solver, solve_ms=assortment.solve_ms, candidates=len(candidates), request=request,
        shaping_constraints=solved.shaping, solve_status=assortment.status,
    )
    rec.shaping_constraints.extend(rule_note(name) for name in business_rules.explain(catalog, request, rules))
    by_product = _rules_by_product(request, rules)
    for idx, prob, reason in zip(assortment.indices, assortment.choice_probabilities,
                                 explain(catalog, request, solved), strict=True):
        p = catalog.products[int(candidates[idx])]
        named = by_product.get(p.product_id, [])
        if named:
            reason.rules.extend(rule_note(n) for n in named)
            reason.text += "; " + ", ".join(rule_note(n) for n in named)
        rec.items.add(product_id=p.product_id, title=p.title, brand=p.brand, category=p.category, colour=p.colour,
                      price=p.price, rating=p.rating, choice_probability=float(prob),
                      image_url=image_url(p, image_base), reason=reason)
    return rec


def _rules_by_product(request: optimization_pb2.OptimizationRequest,
                      rules: tuple[business_rules.Rule, ...]) -> dict[str, list[str]]:
    """Applied rules that name a product (pins, boosts) -> that product's reason names them."""
    out: dict[str, list[str]] = {}
    for rule in rules:
        if rule.name not in request.applied_rules:
            continue
        for pid in (*rule.products, *(pid for pid, _ in rule.boosts)):
            if rule.kind in ("pin_products", "boost_products"):
                out.setdefault(pid, []).append(rule.name)
    return out
