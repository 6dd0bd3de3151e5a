"""In-session metrics on synthetic timelines with hand-computed answers (services/eval/insession.py)."""

from __future__ import annotations

import pytest

from services.eval import insession as ins

GOOD = {"g1", "g2", "g3", "g4"}
NEW = {"n1", "n2", "n3", "n4"}


def want(ids):
    return lambda pid: pid in ids


def test_share_is_zero_before_the_first_panel_and_time_weighted_after() -> None:
    # first product view at 2 s, session ends at 12 s; no panel until 4 s, then a quarter right until 8 s,
    # then all right: (2 s x 0 + 4 s x 0.25 + 4 s x 1) / 10 s = 0.5
    panels = [(4.0, ["g1", "x1", "x2", "x3"]), (8.0, ["g1", "g2", "g3", "g4"])]
    intents = [(0.0, want(GOOD))]
    assert ins.time_weighted_share(panels, intents, 2.0, 12.0) == pytest.approx(0.5)
    assert ins.share_at(panels, intents, 3.9) == 0.0
    assert ins.first_good(panels, intents, 2.0, 12.0) == pytest.approx(6.0)  # 8 s - 2 s
    assert ins.drops(panels, intents, 2.0, 12.0) == 0


def test_a_panel_shown_before_the_first_view_counts_from_the_view() -> None:
    panels = [(1.0, ["g1", "g2"]), (5.0, ["x1", "x2"])]
    intents = [(0.0, want(GOOD))]
    # good from the first view at 3 s (0 s to good), bad from 5 s to 9 s: share (2 x 1 + 4 x 0) / 6
    assert ins.first_good(panels, intents, 3.0, 9.0) == 0.0
    assert ins.time_weighted_share(panels, intents, 3.0, 9.0) == pytest.approx(1 / 3)
    assert ins.drops(panels, intents, 3.0, 9.0) == 1


def test_drops_count_every_fall_below_half_after_reaching_it() -> None:
    panels = [(1.0, ["x1", "x2"]), (2.0, ["g1", "x1"]), (3.0, ["x1", "x2"]), (4.0, ["g1", "g2"]),
              (5.0, ["g1", "x1", "x2"]), (6.0, ["g1", "g2"])]
    intents = [(0.0, want(GOOD))]
    # bad, good (exactly half), bad (drop 1), good, a third right (drop 2), good
    assert ins.drops(panels, intents, 0.5, 7.0) == 2
    assert ins.first_good(panels, intents, 0.5, 7.0) == pytest.approx(1.5)


def test_an_intent_switch_is_not_a_drop_and_follow_time_counts_from_the_new_intents_first_view() -> None:
    panels = [(2.0, ["g1", "g2"]), (13.0, ["n1", "g1"]), (15.0, ["n1", "n2"])]
    intents = [(0.0, want(GOOD)), (10.0, want(NEW))]
    result = ins.measure(panels, intents, first_view=1.0, end=20.0)
    assert result is not None and result.switched
    assert result.drops == 0  # 10 s: the yardstick changed, not the panel
    assert result.first_good_s == pytest.approx(1.0)
    assert result.follow_s == pytest.approx(3.0)  # the half-right panel at 13 s, 3 s after 10 s
    # 1-2 s: 0; 2-10 s: 1; 10-13 s: 0 (old panel, new intent); 13-15 s: 0.5; 15-20 s: 1 -> (8 + 1 + 5) / 19
    assert result.share == pytest.approx(14 / 19)


def test_never_good_and_no_product_view() -> None:
    panels = [(2.0, ["x1"])]
    intents = [(0.0, want(GOOD))]
    result = ins.measure(panels, intents, first_view=1.0, end=5.0)
    assert result is not None and result.first_good_s is None and result.share == 0.0 and result.follow_s is None
    assert ins.measure(panels, intents, first_view=None, end=5.0) is None


def test_series_is_a_step_function_for_plotting() -> None:
    panels = [(4.0, ["g1", "x1", "x2", "x3"]), (8.0, ["g1", "g2"])]
    times, shares = ins.series(panels, [(0.0, want(GOOD))], 2.0, 12.0)
    assert times == [2.0, 4.0, 8.0, 12.0] and shares == [0.0, 0.25, 1.0, 1.0]


def test_the_in_session_table_has_a_line_per_layout_and_one_for_the_themes_sample_together() -> None:
    from services.eval.runner import layout_groups

    groups = layout_groups({"theme-10", "classic", "theme-2", "boutique"})
    assert [name for name, _ in groups] == ["boutique", "classic", "theme-2", "theme-10", "themes", "all"]
    assert dict(groups)["themes"] == {"theme-2", "theme-10"}
    assert [name for name, _ in layout_groups({"classic", "theme-3"})] == ["classic", "theme-3", "all"]


def test_the_final_recommendation_table_has_the_themes_sample_together_too() -> None:
    from services.common.catalog import Catalog, Product
    from services.eval.runner import Row, summarise

    catalog = Catalog([Product(f"P{n}", f"Shoe {n}", "Acme", "Footwear", "Black", 50.0 + n, 0.3, 4.0, 10, "",
                               "", "") for n in range(8)])
    ids = [p.product_id for p in catalog.products]

    def row(layout: str, satisfaction: float) -> Row:
        scores = {key: 0.5 for key in ("hr", "ndcg", "mrr", "precision", "recall", "f1")}
        return Row(layout=layout, persona="p", group="g", preference="", method="interarec", items=ids,
                   scores={**scores, "satisfaction": satisfaction}, grounding_precision=1.0, grounding_recall=0.5)

    lines = {x["layout"]: x for x in summarise([row("classic", 1.0), row("theme-1", 0.0), row("theme-2", 1.0)],
                                               catalog)}
    assert list(lines) == ["classic", "theme-1", "theme-2", "themes", "all"]
    assert lines["themes"]["personas"] == 2 and lines["themes"]["satisfaction"] == 0.5
    assert lines["all"]["personas"] == 3 and abs(lines["all"]["satisfaction"] - 2 / 3) < 1e-9
