"""The delivery invariants the fault tests check, on hand-made publication sequences."""

from tests.support import first_problem_in_windows, republished

A, B = ("P1", "P2"), ("P3",)


def test_strictly_increasing_windows_pass():
    assert first_problem_in_windows([(2, A), (3, B), (7, A)]) is None
    assert first_problem_in_windows([]) is None


def test_a_window_resent_after_a_crash_is_tolerated_only_as_the_same_recommendation():
    published = [(2, A), (3, B), (2, A), (3, B), (4, A)]
    assert first_problem_in_windows(published) is None and republished(published) == 2
    assert "different items" in first_problem_in_windows([(2, A), (2, B)])


def test_a_new_window_below_an_earlier_one_is_going_backwards():
    assert "backwards" in first_problem_in_windows([(5, A), (3, B)])
    assert "backwards" in first_problem_in_windows([(5, A), (5, A), (4, B)])
