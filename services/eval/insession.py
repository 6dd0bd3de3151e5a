"""In-session metrics: how right the panel is WHILE the shopper browses, not only after they leave.

Pure functions over a panel timeline [(seconds, items)] (a panel shows from its time until the next one) and
the shopper's intents [(seconds the intent starts, satisfies)] (one intent, or a second one from the new
intent's first product view). Times are seconds since the session started.

- share(t): the share of the panel's items meeting the intent active at t; 0 before the first panel;
- time-weighted share from the first product view to the session's end;
- seconds from the first product view to the first panel with at least GOOD_SHARE of its items right;
- drops: how often a panel falls below GOOD_SHARE after having reached it, within one intent (the switch
  to a new intent is not a drop: the panel cannot know it before the shopper shows it);
- follow: seconds from the new intent's first product view until the panel is good for the new intent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

GOOD_SHARE = 0.5

Timeline = Sequence[tuple[float, Sequence[str]]]
Intents = Sequence[tuple[float, Callable[[str], bool]]]


@dataclass(frozen=True)
class InSession:
    share: float                  # time-weighted share of right items, first product view to the end
    first_good_s: float | None    # first product view -> first panel at least half right (None: never)
    drops: int                    # falls below half after reaching it, within one intent
    follow_s: float | None        # new intent's first product view -> panel half right for it (None: no switch
    #                               or never followed; see `switched`)
    switched: bool                # the session has an intent change


def _panel_at(panels: Timeline, t: float) -> Sequence[str]:
    shown: Sequence[str] = ()
    for when, items in panels:
        if when > t:
            break
        shown = items
    return shown


def _intent_at(intents: Intents, t: float) -> Callable[[str], bool]:
    current = intents[0][1]
    for start, satisfies in intents:
        if start <= t:
            current = satisfies
    return current


def share_at(panels: Timeline, intents: Intents, t: float) -> float:
    """Share of the panel shown at t meeting the intent active at t; 0 with no panel yet."""
    items = list(dict.fromkeys(_panel_at(panels, t)))
    if not items:
        return 0.0
    satisfies = _intent_at(intents, t)
    return sum(1 for pid in items if satisfies(pid)) / len(items)


def _breakpoints(panels: Timeline, intents: Intents, start: float, end: float) -> list[float]:
    """Every instant in [start, end) where the share can change, in order."""
    cuts = {start} | {t for t, _ in panels if start < t < end} | {t for t, _ in intents if start < t < end}
    return sorted(cuts)


def time_weighted_share(panels: Timeline, intents: Intents, start: float, end: float) -> float:
    if end <= start:
        return share_at(panels, intents, start)
    cuts = _breakpoints(panels, intents, start, end) + [end]
    total = sum((b - a) * share_at(panels, intents, a) for a, b in zip(cuts, cuts[1:], strict=False))
    return total / (end - start)


def first_good(panels: Timeline, intents: Intents, start: float, end: float,
               threshold: float = GOOD_SHARE) -> float | None:
    """Seconds from `start` to the first instant the panel is at least `threshold` right."""
    for t in _breakpoints(panels, intents, start, end):
        if share_at(panels, intents, t) >= threshold:
            return t - start
    return None


def drop_times(panels: Timeline, intents: Intents, start: float, end: float,
               threshold: float = GOOD_SHARE) -> list[float]:
    """The instants the panel goes from at least `threshold` right to below it, within one intent (the instant a
    new intent starts is not a drop)."""
    switches = {t for t, _ in intents[1:]}
    out, before = [], False
    for t in _breakpoints(panels, intents, start, end):
        now = share_at(panels, intents, t) >= threshold
        if before and not now and t not in switches:
            out.append(t)
        before = now
    return out


def drops(panels: Timeline, intents: Intents, start: float, end: float, threshold: float = GOOD_SHARE) -> int:
    """How many times the panel drops (`drop_times`)."""
    return len(drop_times(panels, intents, start, end, threshold))


def quantile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank quantile the reports print (the value at index int(q * n) of the sorted values); None for
    no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(panels: Timeline, intents: Intents, first_view: float | None, end: float) -> InSession | None:
    """All in-session metrics of one session; None if the shopper never opened a product page."""
    if first_view is None:
        return None
    switched = len(intents) > 1
    follow = first_good(panels, intents[1:], intents[1][0], end) if switched else None
    return InSession(share=time_weighted_share(panels, intents, first_view, end),
                     first_good_s=first_good(panels, intents, first_view, end),
                     drops=drops(panels, intents, first_view, end), follow_s=follow, switched=switched)


def series(panels: Timeline, intents: Intents, start: float, end: float) -> tuple[list[float], list[float]]:
    """(times, shares) of the step function from start to end, for plotting (a step at each change)."""
    cuts = _breakpoints(panels, intents, start, end)
    return cuts + [end], [share_at(panels, intents, t) for t in cuts] + [share_at(panels, intents, cuts[-1])]
