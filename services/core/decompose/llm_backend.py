"""The decomposer's `llm` backend: a behaviour summary -> one named tool call -> a validated request.

The model only proposes. Its arguments are parsed against the tool's schema, then go through the same
grounding, bounds and contradiction relaxation as the rules backend (repair.repair_request), plus the checks
for the side constraints the rules never set (excluded brands, pinned products, a per-brand cap). Every
constraint dropped or repaired is recorded as a Relaxation with its reason. Soft preferences come from the
rules backend's reading of the same summary: the model picks hard constraints, not utility weights.

Any failure (server down, slow, truncated, garbage, wrong schema, no call) -> the rules backend's request,
with `fallback_reason` set and interarec_decomposer_fallbacks_total counting it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from prometheus_client import Counter
from pydantic import ValidationError

from interarec.v1 import optimization_pb2, summaries_pb2
from services.common.catalog import Catalog
from services.common.llm import LlmClient, LlmError, LlmSettings
from services.common.vocabulary import Vocabulary
from services.core.assortment.candidates import candidate_mask

from . import repair, rules, tool_schema

BACKEND = "llm"
FALLBACKS = Counter("interarec_decomposer_fallbacks_total",
                    "Summaries the model could not decompose, handled by the rules backend", ["reason"])
log = logging.getLogger("interarec.decomposer")


def build_request(args: tool_schema.ToolArguments, summary: summaries_pb2.BehaviourSummary, catalog: Catalog,
                  k_max: int, preferences: optimization_pb2.Preferences | None = None
                  ) -> optimization_pb2.OptimizationRequest:
    """The tool call as an OptimizationRequest, validated and repaired; every change recorded. Soft
    preferences: `preferences` when given, else the rules backend's reading of the summary."""
    # Empty strings are how a grammar-bound model says "nothing" in a list: not a claim, no note.
    args = args.model_copy(update={name: [v for v in getattr(args, name) if v.strip()] for name in (
        "categories", "brands", "exclude_brands", "colours", "include_product_ids", "exclude_product_ids")})
    request = optimization_pb2.OptimizationRequest(
        session_id=summary.session_id, tenant=summary.tenant, window_seq=summary.window_seq, backend=BACKEND,
        prompt_version=tool_schema.PROMPT_VERSION)
    request.summary.CopyFrom(summary)
    request.trace.CopyFrom(summary.trace)

    def note(constraint: str, reason: str) -> None:
        request.relaxations.add(constraint=constraint, reason=reason)

    request.k = args.k
    if not 1 <= args.k <= k_max:
        request.k = min(max(args.k, 1), k_max)
        note("k", f"k={args.k} outside [1, {k_max}]; set to {request.k}")
    if args.objective in tool_schema.OBJECTIVES:
        request.objective = tool_schema.OBJECTIVES[args.objective]
    else:
        request.objective = optimization_pb2.OBJECTIVE_EXPECTED_REVENUE
        note("objective", f"unknown objective {args.objective!r}; expected_revenue used")

    c = request.constraints
    c.categories.extend(args.categories)
    c.brands.extend(args.brands)
    c.colours.extend(args.colours)
    for name in ("price_min", "price_max", "min_rating"):
        if (value := getattr(args, name)) is not None and value != 0:  # 0, like null, means "no bound"
            setattr(c, name, value)
    c.exclude_product_ids.extend(args.exclude_product_ids)
    dropped_ids = [pid for pid in args.exclude_product_ids if pid not in catalog.by_id]
    if dropped_ids:
        note("exclude_product_ids", f"not in catalog: {dropped_ids[:5]}")

    brand = Vocabulary(catalog.brands, fuzzy=False)
    for value in args.exclude_brands:
        canonical = brand(value)
        if canonical is None:
            note("exclude_brands", f"not in catalog: brand {value!r}")
        elif canonical not in c.exclude_brands:
            c.exclude_brands.append(canonical)
    # Contradiction: a brand both required and excluded. Excluding is the more explicit wish: it wins.
    clash = [b for b in c.brands if brand(b) in c.exclude_brands]
    if clash:
        kept = [b for b in c.brands if b not in clash]
        del c.brands[:]
        c.brands.extend(kept)
        note("brands", f"{clash} both required and excluded; requirement dropped")
    # Soft preferences: the rules backend's reading of the same input (shares of grounded views).
    request.preferences.CopyFrom(preferences if preferences is not None
                                 else rules.decompose(summary, catalog, k=request.k).preferences)

    # grounding, bounds, price/rating sanity, relaxation to >= k in the one relaxation order (repair.TIERS:
    # the brand exclusion is given up first)
    repair.repair_request(request, catalog)

    # Pins: catalog products that satisfy the (repaired) constraints, at most k of them.
    allowed = candidate_mask(catalog, c)
    for pid in dict.fromkeys(args.include_product_ids):
        i = catalog.index.get(pid)
        if i is None:
            note("include_product_ids", f"not in catalog: {pid[:40]!r}")
        elif not allowed[i]:
            note("include_product_ids", f"{pid} violates the other constraints (or is excluded); not pinned")
        elif len(c.include_product_ids) >= request.k:
            note("include_product_ids", f"{pid}: more pins than k={request.k}; not pinned")
        else:
            c.include_product_ids.append(pid)
    if args.max_per_brand is not None:
        if 1 <= args.max_per_brand < request.k:
            c.max_per_brand = args.max_per_brand
        else:
            note("max_per_brand", f"max_per_brand={args.max_per_brand} outside [1, k-1={request.k - 1}]; dropped")
    return request


def side_constraint_problems(request: optimization_pb2.OptimizationRequest, catalog: Catalog) -> list[str]:
    """What repair.validate_request does not know about: the side constraints only this backend sets."""
    c, problems = request.constraints, []
    problems += [f"exclude_brands: {b!r} is not a catalog brand" for b in c.exclude_brands if b not in catalog.brands]
    problems += [f"brand {b!r} both required and excluded" for b in c.brands if b in c.exclude_brands]
    allowed = candidate_mask(catalog, c)
    for pid in c.include_product_ids:
        if pid not in catalog.index or not allowed[catalog.index[pid]]:
            problems.append(f"pinned {pid!r} is not an allowed candidate")
    if len(c.include_product_ids) > request.k:
        problems.append("more pins than k")
    if c.HasField("max_per_brand") and not 1 <= c.max_per_brand < request.k:
        problems.append(f"max_per_brand={c.max_per_brand} outside [1, k)")
    if int(allowed.sum()) < request.k:
        problems.append(f"only {int(allowed.sum())} candidates for k={request.k}")
    return problems


class LlmDecomposer:
    def __init__(self, client: LlmClient, catalog: Catalog, k: int):
        self.client, self.catalog, self.k = client, catalog, k
        self.tool = tool_schema.tool(catalog, k)

    async def warm_up(self) -> None:
        """One throwaway call at start-up: vLLM compiles a named tool's grammar on its first use (seconds)."""
        try:
            await self.decompose(summaries_pb2.BehaviourSummary(session_id="warm-up", tenant="warm-up"))
            log.info("model warm-up call done")
        except LlmError as exc:
            log.warning("model warm-up call failed (the rules fallback covers it): %s", exc)

    async def call_tool(self, messages: list[dict]) -> tool_schema.ToolArguments:
        """The model's named tool call, parsed against the tool's shape; raises LlmError when unusable."""
        answer = await self.client.chat(messages, tools=[self.tool], tool_choice=tool_schema.TOOL_CHOICE)
        try:
            return tool_schema.ToolArguments.model_validate(answer.tool_arguments(tool_schema.TOOL_NAME))
        except ValidationError as exc:
            raise LlmError("wrong_schema", str(exc).replace("\n", " ")[:300]) from None

    async def decompose(self, summary: summaries_pb2.BehaviourSummary) -> optimization_pb2.OptimizationRequest:
        """The model's request; raises LlmError when its call is unusable."""
        args = await self.call_tool(tool_schema.messages(summary, self.k))
        request = build_request(args, summary, self.catalog, self.k)
        request.model = self.client.settings.model
        return request

    async def decompose_query(self, rules_request: optimization_pb2.OptimizationRequest,
                              text: str) -> optimization_pb2.OptimizationRequest:
        """A typed query through the same tool call and validation. `rules_request` is the rules' reading of
        the text: its summary, k and soft preferences are kept (the caller chose k; the model picks hard
        constraints only). Raises LlmError when the call is unusable."""
        args = await self.call_tool(tool_schema.query_messages(text, rules_request.k))
        args = args.model_copy(update={"k": rules_request.k})
        request = build_request(args, rules_request.summary, self.catalog, self.k, rules_request.preferences)
        request.session_id, request.tenant = rules_request.session_id, rules_request.tenant
        request.prompt_version = tool_schema.QUERY_PROMPT_VERSION
        request.model = self.client.settings.model
        return request


class Decomposer(Protocol):
    """A summary -> validated OptimizationRequest backend. `decompose` may raise LlmError (model backends);
    `WithFallback` turns that into the fallback's request, saying why."""

    async def decompose(self, summary: summaries_pb2.BehaviourSummary) -> optimization_pb2.OptimizationRequest: ...


class RulesDecomposer:
    """The rules backend (rules.py) behind the Decomposer protocol: no model, never raises LlmError."""

    def __init__(self, catalog: Catalog, k: int):
        self.catalog, self.k = catalog, k

    async def decompose(self, summary: summaries_pb2.BehaviourSummary) -> optimization_pb2.OptimizationRequest:
        return rules.decompose(summary, self.catalog, k=self.k)


class WithFallback:
    """`primary`'s request when usable, else `fallback`'s with `fallback_reason` saying why (and counted)."""

    def __init__(self, primary: Decomposer, fallback: Decomposer):
        self.primary, self.fallback = primary, fallback

    async def warm_up(self) -> None:
        if (warm_up := getattr(self.primary, "warm_up", None)) is not None:
            await warm_up()

    async def decompose(self, summary: summaries_pb2.BehaviourSummary) -> optimization_pb2.OptimizationRequest:
        try:
            return await self.primary.decompose(summary)
        except LlmError as exc:
            FALLBACKS.labels(reason=exc.kind).inc()
            log.warning("model decomposition failed, rules fallback: %s", exc,
                        extra={"session_id": summary.session_id, "window_seq": summary.window_seq})
            request = await self.fallback.decompose(summary)
            request.fallback_reason = str(exc)[:500]
            return request


async def decompose_summary(backend: LlmDecomposer | None, summary: summaries_pb2.BehaviourSummary,
                            catalog: Catalog, k: int) -> optimization_pb2.OptimizationRequest:
    """The model's request when usable, else the rules' request saying why. Never raises for a model failure."""
    rules_backend = RulesDecomposer(catalog, k)
    chosen = rules_backend if backend is None else WithFallback(backend, rules_backend)
    return await chosen.decompose(summary)


def make_decomposer(name: str, catalog: Catalog, k: int) -> Decomposer:
    """The configured backend: rules, or the LLM (INTERAREC_LLM_* must be set) with the rules as fallback."""
    rules_backend = RulesDecomposer(catalog, k)
    if name != BACKEND:
        return rules_backend
    return WithFallback(LlmDecomposer(LlmClient(LlmSettings.from_env(), "decomposer"), catalog, k), rules_backend)
