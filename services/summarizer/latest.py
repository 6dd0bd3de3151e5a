"""Latest wins under overload (pure, no I/O): which frames of a lookahead batch need not be read.

The agent takes frames in batches of what is already waiting in its stream buffer (`take_events`, up to
INTERAREC_SUMMARIZER_LOOKAHEAD records, at most a few ms of waiting). When the summarizer keeps up, a batch
holds at most one frame of a session's current page (frames come 0.25-1 s apart, OCR takes ~0.15 s) and
nothing is skipped. When it falls behind, frames wait and a batch holds several of a session's frames. `plan`
then skips, unread (window.skip_frame accounts them in the next summary):

1. every frame with a newer frame of the same page visit in the batch (lossless: the visit is still read);
2. only when the batch's reads would keep the summarizer behind its lag target: the older page visits of a
   session that has a newer visit in the batch, newest kept first, until the reads fit the time the batch
   may take. The session's newest visit in the batch is never skipped for good, whatever its age; nor, in an
   outage's backlog, an older visit that has waited at most INTERAREC_SUMMARIZER_OUTAGE_KEEP_MS (the floor, opt-in);
3. only when even the sessions' newest frames do not fit (with `served`, INTERAREC_SUMMARIZER_TAKE_TURNS), and
   not while working off an outage's backlog (rule 2's budget spent on frames appended before the worker was
   reading their partition): sessions take turns. The newest
   frames of the sessions read longest ago are read first, as long as the batch's newest frame is still read
   within the lag target (its wait so far plus these reads; at least half the target's worth of reads), and
   those of the sessions read most recently are held for the next batch (skipped here, held by the agent, read
   there unless a newer frame of the session in that batch supersedes it). At least one read per batch, so
   every held frame is read within a few batches: the final view of a session that stopped sending.

Why rule 3: reading every session's newest visit once per batch makes a batch last sessions x read time, and a
frame waits up to about two batches (the one under way when it arrived, then its place in its own), so under
sustained overload p95 grows with the number of sessions (6 shoppers x 0.5-1 s a read: 7-8 s) however much is
shed. Taking turns bounds a batch's reads by the lag target instead, so a read frame waits about the target
plus a batch's reads whatever the number of sessions; what grows with overload is the time between two reads
of one session, and a held frame is not lost unless the shopper left its page before its turn. The bound is the
target less the wait so far, within rule 2's budget (which alone, adding the time the batch took to arrive,
let a frame wait up to twice the target), but at least half the target: a batch also costs a state load and
write per session in it and a skip per frame, and batches of a single read spent the worker on those (measured:
172 reads in a run where reading every newest frame managed 218). And no turns while working off an outage's
backlog: there one read per batch of the sessions' newest left each session a turn every dozen batches, and an
outage at twice the load lost most views (27 of 68, 4 of 18 last ones, p95 38.9 s, against 67, 18 and 23.1 s
reading every session's newest visit in each batch, the rule 2 alone that keeps each session's newest view after
an outage). But only an outage's: far behind on frames that came while the worker was reading (overload), every
session's newest visit in each batch makes a batch last sessions x read time, during which more arrives than
the batch took, so the worker never came back within reach of its target (measured: p95 41.5 s at 26 shoppers,
where 24 gave 5.95 s). There turns go on, with one read per batch while the budget is spent: the worker skips
its way back to its target, and the sessions it reads meanwhile are the ones read longest ago.

So a short outage's backlog, which the worker reads within its budget, is read visit by visit (nothing lost; a
long one keeps at least each session's newest visit). The floor (OUTAGE_KEEP_MS) makes that a rule rather than a
matter of budget (a restart's first reads, slow as they are, could spend it: a 10 s crash's backlog once shed a
product view), but it is off by default: its reads grow with sessions x outage, and at twice the load with 18
shoppers a 15 s outage with a 30 s floor left the worker 38 s behind and cost views (80 of 103 against 97).
Meanwhile under sustained overload the worker keeps
each session's present on the panel instead of building lag on what they showed seconds ago: what degrades is
how much of a session is read, not how late.
A page visit is a run of one session's frames on the same page (URL without fragment): a frame on another
page in between starts a new visit. Rule 1 keeps every page the shopper opened; rule 2 sheds whole visits,
which is why it is bounded by a budget rather than by each frame's age (a per-frame age limit also skipped
the newest views of every session in an outage's backlog).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.core.reading.window import page_key

# Share of the lag above the target a batch must work off. A half, not all: a large backlog then sheds over a
# few batches, so a short burst costs few visits, while sustained overload still converges on the target.
CATCH_UP_SHARE = 0.5


@dataclass(frozen=True)
class Waiting:
    """A frame record of a lookahead batch: its session key, page URL and broker append time (0: unknown), and
    whether it was appended before this worker was reading its partition: an outage's backlog (the worker was
    down, or the partition had no owner), as opposed to frames it fell behind on while reading."""

    session: str
    url: str
    appended_ms: float = 0.0
    backlog: bool = False


@dataclass(frozen=True)
class Pace:
    """What the plan weighs: the clock, the lag the summarizer aims to stay under, what a read and a skip cost (the
    agent measures both as it goes), how old an outage's backlog may be and still be read visit by visit (rule 2's
    floor; 0: no floor), and after how long the handler skips a frame of a visit already read (INTERAREC_SUMMARIZER_
    STALE_MS)."""

    now_ms: float
    target_ms: float
    read_s: float
    skip_s: float = 0.0
    outage_keep_ms: float = 0.0
    stale_ms: float = 0.0  # a frame of a visit already read that waited longer is skipped when handled (0: never)


# Whether a session's visit to a page was already read (its state says so): such a frame costs no read.
VisitRead = Callable[[str, str], bool]


def superseded(batch: Sequence[Waiting | None]) -> list[bool]:
    """True for each frame with a newer frame of the same session's same page visit later in the batch."""
    return [s == "visit" for s in _visits(batch)[0]]


def _visits(batch: Sequence[Waiting | None]) -> tuple[list[str | None], list[tuple[str, int] | None]]:
    """Per record: "visit" if superseded within its page visit, else None; and its (session, visit number)."""
    visit: dict[str, tuple[str, int]] = {}  # session -> (page of its current visit, visit number)
    keys: list[tuple[str, int] | None] = []
    for ref in batch:
        if ref is None:
            keys.append(None)
            continue
        page = page_key(ref.url)
        current = visit.get(ref.session)
        if current is None or current[0] != page:
            current = (page, current[1] + 1 if current else 0)
            visit[ref.session] = current
        keys.append((ref.session, current[1]))
    out: list[str | None] = [None] * len(keys)
    newest: set[tuple[str, int]] = set()
    for i in range(len(keys) - 1, -1, -1):
        key = keys[i]
        if key is None:
            continue
        if key in newest:
            out[i] = "visit"
        newest.add(key)
    return out, keys


# When a session's frame was last read (the agent's processing clock, ms; None: not since it started).
Served = Callable[[str], float | None]


@dataclass(frozen=True)
class Plan:
    """A lookahead batch's plan: True for each record to skip unread, and the seconds of reading it expects the kept
    frames to cost (a frame of a visit its session's state read already counted free)."""

    skip: list[bool]
    reads_s: float


def plan(batch: Sequence[Waiting | None], pace: Pace, visit_read: VisitRead = lambda s, u: False,
         served: Served | None = None) -> list[bool]:
    """True for each record of a lookahead batch to skip unread (rules 1-3 of the module doc; rule 3 only with
    `served`); None records (ticks, undecodable) are never skipped. A skipped record that is its session's last in
    the batch was held by rule 3 (rules 1 and 2 never skip it): the caller reads it in a later batch."""
    return schedule(batch, pace, visit_read, served).skip


def schedule(batch: Sequence[Waiting | None], pace: Pace, visit_read: VisitRead = lambda s, u: False,
             served: Served | None = None) -> Plan:
    """`plan`, with what the plan expects the batch's reads to cost (the batch log sets it beside what they did)."""
    skipped, keys = _visits(batch)
    survivors = [i for i, key in enumerate(keys) if key is not None and skipped[i] is None]

    def unlooked() -> Plan:  # every survivor read, at the measured read cost: no state was looked up
        return Plan([s is not None for s in skipped], len(survivors) * pace.read_s)
    newest_visit: dict[str, int] = {}
    for i in survivors:
        session, number = keys[i]  # type: ignore[misc]
        newest_visit[session] = max(newest_visit.get(session, -1), number)
    older = [i for i in survivors if keys[i][1] < newest_visit[keys[i][0]]]  # type: ignore[index]
    if not older and served is None:
        return unlooked()
    shed_able = set(older)
    newest = [i for i in survivors if i not in shed_able]  # one per session
    budget = _budget_s(batch, pace)
    # Rule 3's bound: the batch's newest frame read within the target (at least half the target's worth of reads)
    turns = min(budget, max(pace.target_ms - lag_ms(batch, pace), pace.target_ms / 2) / 1000
                - _frames(batch) * pace.skip_s)
    if not older and len(newest) * pace.read_s <= turns:
        return unlooked()  # everything fits: no need to look any state up
    first_visit = {keys[i][0]: i for i in reversed(survivors)}  # type: ignore[index]
    # A read costs read_s, except a session's first visit in the batch when its state already read it (only that
    # one can be) and the frame waited past stale_ms: the handler skips it. Before it has, the handler reads it (a
    # scrolled view), which the plan once counted free: 0.37 s of a 1.24 s batch planned at 0.88 s. visit_read
    # looks the state up, so each is asked once.
    cost = {i: 0.0 if first_visit[batch[i].session] == i and _stale(batch[i], pace)  # type: ignore[arg-type]
            and visit_read(batch[i].session, batch[i].url) else pace.read_s  # type: ignore[union-attr]
            for i in survivors}
    if served is None or _outage(batch, budget):  # each session's newest is read (an outage's newest views)
        budget -= sum(cost[i] for i in newest)
    else:
        # Rule 3: the sessions read longest ago first (never read: first of all), in arrival order among equals.
        ranked = sorted(newest, key=lambda i: (_served_ms(served, batch[i].session), i))  # type: ignore[union-attr]
        reads = 0
        for i in ranked:
            if cost[i] > 0 and reads and cost[i] > turns:
                skipped[i] = "held"
                continue
            budget -= cost[i]
            turns -= cost[i]
            reads += cost[i] > 0
    for i in sorted(older, reverse=True):  # the newest older visits are kept first
        if cost[i] <= max(budget, 0.0) or _kept_from_outage(batch[i], pace):  # a visit read costs nothing to keep
            budget -= cost[i]
        else:
            skipped[i] = "shed"
    return Plan([s is not None for s in skipped], sum(cost[i] for i in survivors if skipped[i] is None))


def backlogged(batch: Sequence[Waiting | None], pace: Pace) -> bool:
    """Whether the batch is planned as an outage's backlog: every session's newest frame read, no turns."""
    return _outage(batch, _budget_s(batch, pace))


def _outage(batch: Sequence[Waiting | None], budget_s: float) -> bool:
    """Rule 2's budget spent on frames appended before the worker was reading them: an outage's backlog. Far behind
    on frames that came while it was reading is overload, which taking turns works off (rule 3)."""
    return budget_s <= 0 and any(r is not None and r.backlog for r in batch)


def _stale(ref: Waiting, pace: Pace) -> bool:
    """Whether the handler skips the frame if its visit was read already (it waited past stale_ms)."""
    return pace.stale_ms > 0 and ref.appended_ms > 0 and pace.now_ms - ref.appended_ms > pace.stale_ms


def _kept_from_outage(ref: Waiting | None, pace: Pace) -> bool:
    """Rule 2's floor: an older visit of an outage's backlog that has waited at most `outage_keep_ms` is read
    whatever the budget, so a short outage loses no page the shopper opened. Not overload's frames: there the
    visits the worker keeps shedding are what it cannot read in time at all."""
    return (ref is not None and ref.backlog and ref.appended_ms > 0
            and pace.now_ms - ref.appended_ms <= pace.outage_keep_ms)


def _served_ms(served: Served, session: str) -> float:
    at = served(session)
    return float("-inf") if at is None else at


def _budget_s(batch: Sequence[Waiting | None], pace: Pace) -> float:
    """Seconds of reading this batch may take: as long as its frames took to arrive (at most the lag target), plus
    the slack below the target or minus a share of the lag above it; less the skips' own cost. Capped by the
    target, since a read frame waits for the reads before it: a long batch must not push the newest past it."""
    appended = [r.appended_ms for r in batch if r is not None and r.appended_ms > 0]
    frames = _frames(batch)
    if not appended:
        return pace.target_ms / 1000 - frames * pace.skip_s
    span_ms = min(max(appended) - min(appended), pace.target_ms)
    over_ms = lag_ms(batch, pace) - pace.target_ms
    slack_ms = -over_ms if over_ms <= 0 else -CATCH_UP_SHARE * over_ms
    return (span_ms + slack_ms) / 1000 - frames * pace.skip_s


def _frames(batch: Sequence[Waiting | None]) -> int:
    return sum(r is not None for r in batch)


def lag_ms(batch: Sequence[Waiting | None], pace: Pace) -> float:
    """How long the batch's newest frame has waited (0 if no append time is known)."""
    appended = [r.appended_ms for r in batch if r is not None and r.appended_ms > 0]
    return max(0.0, pace.now_ms - max(appended)) if appended else 0.0


def ticks_first(records: Sequence[tuple[str | None, bool]]) -> list[int]:
    """The order to handle a lookahead batch in, given each record's (session key or None, whether it is an idle
    tick): a tick before every other record, unless a record of its own session comes before it (then it stays
    after that one: a session's records are handled in order). A tick closes a window its session left idle for
    INTERAREC_SUMMARIZER_IDLE_MS; queued behind other sessions' reads it waited up to a batch more, which a
    window closed by idleness adds to the idle time itself (p95 7.4-7.6 s at 2x, against 3.9 s for windows
    closed by their first read). Sessions are independent, so only their interleaving changes."""
    seen: set[str] = set()
    first, rest = [], []
    for i, (session, tick) in enumerate(records):
        (first if tick and session not in seen else rest).append(i)
        if session is not None:
            seen.add(session)
    return first + rest
