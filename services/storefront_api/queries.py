"""Turn the storefront's direct questions into OptimizationRequests (pure):

- similar products: same product type as hard constraint; brand, colour and price level as soft
  preferences, so attribute- and price-similar products rank first;
- a typed query ("black trail shoes under $120"): catalog brands, categories and colours named in the text
  become hard constraints (the rules decomposer's grounding; relaxed by `repair_request` when they leave
  too few products), price phrases become a price band, and everything named stays a soft preference.
"""

from __future__ import annotations

import re

from interarec.v1 import optimization_pb2
from services.common.catalog import Catalog, Product
from services.common.vocabulary import norm, singular
from services.core.decompose.evidence import FIELDS, field_vocabulary

SIMILAR_BRAND_WEIGHT = 0.6  # same brand: a strong but not exclusive signal of similarity
SIMILAR_COLOUR_WEIGHT = 0.5
SIMILAR_PRICE_BAND = 2.0  # candidates within [price / 2, price * 2]: similar price level

_MONEY = r"\$?\s*(\d+(?:\.\d+)?)"
_PRICE_PATTERNS = (  # (regex, which bound(s) it sets)
    (re.compile(rf"between\s+{_MONEY}\s+and\s+{_MONEY}"), "both"),
    (re.compile(rf"{_MONEY}\s*(?:-|to)\s*{_MONEY}"), "both"),
    (re.compile(rf"(?:under|below|less than|cheaper than|max|up to|<)\s*{_MONEY}"), "max"),
    (re.compile(rf"(?:over|above|more than|at least|min|>)\s*{_MONEY}"), "min"),
)


def similar_request(catalog: Catalog, product: Product, k: int, tenant: str) -> optimization_pb2.OptimizationRequest:
    request = optimization_pb2.OptimizationRequest(tenant=tenant, session_id=f"similar:{product.product_id}", k=k,
                                                   objective=optimization_pb2.OBJECTIVE_EXPECTED_REVENUE,
                                                   backend="item-to-item")
    c, p = request.constraints, request.preferences
    c.categories.append(product.category)
    c.price_min = round(product.price / SIMILAR_PRICE_BAND, 2)
    c.price_max = round(product.price * SIMILAR_PRICE_BAND, 2)
    c.exclude_product_ids.append(product.product_id)
    p.categories.add(value=product.category, weight=1.0)
    p.brands.add(value=product.brand, weight=SIMILAR_BRAND_WEIGHT)
    p.colours.add(value=product.colour, weight=SIMILAR_COLOUR_WEIGHT)
    p.price_anchor = product.price
    request.summary.narrative = f"Similar to {product.title} ({product.brand}, {product.colour}, ${product.price:,.2f})"
    return request


def parse_price(text: str) -> tuple[float | None, float | None]:
    """(min, max) named in a query, e.g. 'under $120' -> (None, 120)."""
    lowered = text.casefold()
    for pattern, bound in _PRICE_PATTERNS:
        m = pattern.search(lowered)
        if m:
            if bound == "both":
                lo, hi = sorted((float(m.group(1)), float(m.group(2))))
                return lo, hi
            value = float(m.group(1))
            return (None, value) if bound == "max" else (value, None)
    return None, None


def text_request(catalog: Catalog, text: str, k: int, tenant: str) -> tuple[optimization_pb2.OptimizationRequest,
                                                                              list[str]]:
    """(request, words not understood). Single words and two-word phrases are grounded in the catalog."""
    request = optimization_pb2.OptimizationRequest(tenant=tenant, session_id="query:text", k=k,
                                                   objective=optimization_pb2.OBJECTIVE_EXPECTED_REVENUE,
                                                   backend="rules")
    request.summary.search_queries.append(text)
    request.summary.narrative = f"Typed query: {text}"
    lo, hi = parse_price(text)
    price_words = set()
    for pattern, _ in _PRICE_PATTERNS:
        for m in pattern.finditer(text.casefold()):
            price_words.update(norm(m.group(0)).split())
    words = [w for w in norm(text).split() if w not in price_words]
    used: set[int] = set()
    for field in FIELDS:
        ground = field_vocabulary(catalog, field)
        for size in (2, 1):
            for i in range(len(words) - size + 1):
                span = range(i, i + size)
                if used.intersection(span):
                    continue
                value = ground(" ".join(words[j] for j in span))
                if value is not None:
                    used.update(span)
                    if value not in getattr(request.constraints, field.name):
                        getattr(request.constraints, field.name).append(value)
                        getattr(request.preferences, field.name).add(value=value, weight=1.0)
    if lo is not None:
        request.constraints.price_min = lo
    if hi is not None:
        request.constraints.price_max = hi
    if lo or hi:
        request.preferences.price_anchor = (lo * hi) ** 0.5 if lo and hi else (lo or hi)
    _match_category_words(catalog, words, used, request)
    ignored = [w for i, w in enumerate(words) if i not in used and w not in _STOPWORDS]
    return request, ignored


# Everyday words for product types that catalogs name differently; used only when that category exists.
PRODUCT_TYPE_WORDS = {"shoe": "Footwear", "boot": "Footwear", "trainer": "Footwear", "coat": "Outerwear",
                      "bag": "Backpacks", "pan": "Cookware", "pot": "Cookware", "earphone": "Headphones",
                      "light": "Lamps", "glass": "Sunglasses", "watch": "Watches"}
_STOPWORDS = {"a", "an", "the", "for", "with", "in", "of", "and", "or", "me", "some", "i", "want", "need", "show"}


def _match_category_words(catalog: Catalog, words: list[str], used: set[int],
                          request: optimization_pb2.OptimizationRequest) -> None:
    """Words like 'sneakers' or 'lamp' name a product type when every product title with that word is in one
    category; everyday words ('shoes') map through PRODUCT_TYPE_WORDS."""
    if request.constraints.categories:
        return
    for i, word in enumerate(words):
        if i in used or word in _STOPWORDS or len(word) < 3:
            continue
        key = singular(word)
        cats = {p.category for p in catalog.products if key in {singular(w) for w in norm(p.title).split()}}
        if not cats and PRODUCT_TYPE_WORDS.get(key.removesuffix("e")) in catalog.categories:  # "glasses"
            cats = {PRODUCT_TYPE_WORDS[key.removesuffix("e")]}
        elif not cats and PRODUCT_TYPE_WORDS.get(key) in catalog.categories:
            cats = {PRODUCT_TYPE_WORDS[key]}
        if len(cats) == 1:
            (cat,) = cats
            used.add(i)
            request.constraints.categories.append(cat)
            request.preferences.categories.add(value=cat, weight=1.0)
            return
