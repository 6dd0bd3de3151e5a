"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from services.eval import metrics as m

REL = ["a", "b", "c", "d"]  # ground truth, best first: gains 1, 0.75, 0.5, 0.25


def test_hits_precision_recall_f1():
    ranked = ["x", "b", "y", "a", "z"]
    assert m.hits(ranked, REL, 3) == 1 and m.hits(ranked, REL, 5) == 2
    assert m.precision(ranked, REL, 5) == pytest.approx(2 / 5)
    assert m.recall(ranked, REL, 5) == pytest.approx(2 / 4)  # min(K=5, |R|=4) = 4
    assert m.recall(ranked, REL, 2) == pytest.approx(1 / 2)  # min(2, 4) = 2
    assert m.f1(ranked, REL, 5) == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert m.precision(["a"], REL, 4) == pytest.approx(0.25)  # unfilled slots are misses
    assert m.hits(["a", "a", "b"], REL, 2) == 2  # a repeat counts once and takes no slot


def test_hit_rate_and_mrr():
    assert m.hit_rate(["x", "y", "c"], REL, 2) == 0.0
    assert m.hit_rate(["x", "y", "c"], REL, 3) == 1.0
    assert m.mrr(["x", "y", "c"], REL) == pytest.approx(1 / 3)
    assert m.mrr(["x", "y", "c"], REL, k=2) == 0.0
    assert m.mrr([], REL) == 0.0


def test_ndcg_by_hand():
    # ranked b, x, a: DCG = 0.75/log2(2) + 0 + 1/log2(4) = 0.75 + 0.5 = 1.25
    # ideal top 3: 1, 0.75, 0.5 -> 1 + 0.75/log2(3) + 0.5/2
    idcg = 1 + 0.75 / math.log2(3) + 0.25
    assert m.ndcg(["b", "x", "a"], REL, 3) == pytest.approx(1.25 / idcg)
    assert m.ndcg(["a", "b", "c"], REL, 3) == pytest.approx(1.0)
    assert m.ndcg(["x"], REL, 3) == 0.0 and m.ndcg(["a"], [], 3) == 0.0


def test_satisfaction_coverage_first_satisfying():
    ok = {"a", "b"}.__contains__
    assert m.satisfaction(["a", "x", "b", "y"], ok) == 0.5
    assert m.satisfaction([], ok) == 0.0
    assert m.coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(0.3)
    timeline = [(1.5, ["x", "y"]), (4.0, ["a", "x"]), (9.0, ["a", "b"])]
    assert m.first_satisfying(timeline, ok, 0.5) == 4.0
    assert m.first_satisfying(timeline, ok, 0.75) == 9.0
    assert m.first_satisfying(timeline[:2], ok, 0.75) is None
