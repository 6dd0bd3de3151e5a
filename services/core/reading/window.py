"""Per-session windowing of screenshots: a pure state machine whose state is plain JSON (a Faust table value).

A window closes as soon as a page visit is read (the frame that first yields what its page is for: the
product on a product page, a filter or search elsewhere), when it holds `max_frames` distinct frames, when the
page URL changes, or when no distinct frame arrived for `idle_ms`. Closing on the read is what makes the panel
follow the shopper while they are still on the page (issue 17: a product view waited for the shopper to leave
the page or go idle, 2.5-10 s, before it reached the panel).

Near-duplicates are counted and dropped before OCR: a frame is one when it shows the same page URL as the last
distinct frame and its perceptual hash is within a few bits of a recent frame of that page visit. The URL gate
matters: a 64-bit dHash sees layout, not text, so two product pages of the same template hash alike (measured:
0-2 bits apart), while a new URL always means new content worth reading. Within a page, scrolling moves the
layout and so the hash; a live update of the recommendation panel does not, and is rightly dropped (the panel
is ignored by grounding anyway). Replayed frames (at-least-once redelivery: sequence number and capture time
both not newer than the last seen) are ignored, so re-processing a frame never opens or closes a window twice.

Accounting: every frame is accounted for by exactly one window (`frame_offsets`): distinct frames, frames
whose OCR failed, and near-duplicates -- a near-duplicate arriving when no window is open opens one that
holds only duplicates, so a shopper dwelling after a close is still accounted for.
`window_seq` is 1 + the newest frames-topic offset in the window (the agent passes the Kafka offset as
frame_seq): strictly increasing per session (one partition owns a session), deterministic when a window is
re-emitted after a crash, and it needs no counter, so a session whose state expired or was lost continues
above every window_seq it had before instead of restarting at 1 and being dropped downstream as stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .grounding import Observation
from .imaging import NEAR_DUPLICATE_MAX_DISTANCE, is_near_duplicate

RECENT_HASHES = 8      # the last few distinct views of this page visit: scrolling back up still dedups
# The first frames after a navigation may still show the previous page (browsers hold its paint until the
# new one renders) and same-template pages hash alike, so a visit's first reads are never skipped.
MIN_READS_PER_VISIT = 2
# Until a visit yields what its page is for (the product on a product page, any signal elsewhere), its
# frames keep being read, since the first ones may be blank or half-rendered; this many reads at most.
MAX_READS_UNSETTLED = 6
HISTORY_LIMIT = 40     # grounded observations kept per session for the summary
# Products viewed in the whole session are kept apart from the bounded history, so a long session never
# forgets what was already seen (the decomposer excludes them); bounded only against abuse.
SEEN_LIMIT = 2000
SEEN_MIN_CONFIDENCE = 0.5  # a product page grounded at least this well counts as viewed
DEFAULT_MAX_FRAMES = 8


REPLAYED_REMEMBERED = 64  # original offsets of frames replayed from the dead letters, to ignore a second replay


@dataclass(frozen=True)
class FrameMeta:
    frame_seq: int                       # ordering: the frame's frames-topic offset
    capture_ms: int
    page_url: str
    replay_of: int | None = None         # a frame replayed from the dead letters: its original offset

    @property
    def accounted_offset(self) -> int:
        return self.frame_seq if self.replay_of is None else self.replay_of

    @classmethod
    def from_frame(cls, frame: Any) -> FrameMeta:
        """From an interarec.v1.Frame protobuf (or anything with the same attributes)."""
        return cls(int(frame.frame_seq), int(frame.capture_unix_ms), str(frame.page_url))


@dataclass
class OpenWindow:
    page_url: str
    opened_ms: int                       # processing clock when the first frame arrived
    last_ms: int                         # processing clock of the newest distinct frame (idle timer)
    frame_seqs: list[int] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)
    capture_ms: list[int] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    dropped_duplicates: int = 0
    skipped_stale: int = 0                                # frames latest-wins skipped unread (skip_frame)
    offsets: list[int] = field(default_factory=list)      # accounted frames: distinct, near-duplicates, skipped
    newest_seq: int = -1                                  # newest frame_seq (offset) of any accounted frame
    newest_capture_ms: int = -1

    def to_dict(self) -> dict:
        return {"page_url": self.page_url, "opened_ms": self.opened_ms, "last_ms": self.last_ms,
                "frame_seqs": list(self.frame_seqs), "hashes": [f"{h:x}" for h in self.hashes],
                "capture_ms": list(self.capture_ms), "observations": [o.to_dict() for o in self.observations],
                "dropped_duplicates": self.dropped_duplicates, "skipped_stale": self.skipped_stale,
                "offsets": list(self.offsets),
                "newest_seq": self.newest_seq, "newest_capture_ms": self.newest_capture_ms}

    @classmethod
    def from_dict(cls, d: dict) -> OpenWindow:
        return cls(page_url=d["page_url"], opened_ms=d["opened_ms"], last_ms=d["last_ms"],
                   frame_seqs=list(d["frame_seqs"]), hashes=[int(h, 16) for h in d["hashes"]],
                   capture_ms=list(d["capture_ms"]),
                   observations=[Observation.from_dict(o) for o in d["observations"]],
                   dropped_duplicates=d.get("dropped_duplicates", 0), skipped_stale=d.get("skipped_stale", 0),
                   offsets=list(d.get("offsets", d["frame_seqs"])),
                   newest_seq=d.get("newest_seq", max(d["frame_seqs"], default=-1)),
                   newest_capture_ms=d.get("newest_capture_ms", max(d["capture_ms"], default=-1)))

    def account(self, frame: FrameMeta) -> None:
        self.offsets.append(frame.accounted_offset)
        self.newest_seq = max(self.newest_seq, frame.frame_seq)
        self.newest_capture_ms = max(self.newest_capture_ms, frame.capture_ms)


@dataclass
class ClosedWindow:
    """A finished window, ready to summarise. `history` is the session's earlier grounded observations."""

    window_seq: int
    reason: str                          # "read", "frames", "idle", "page_change"
    page_url: str
    frame_seqs: list[int]
    first_capture_ms: int
    last_capture_ms: int                 # newest frame's capture time: the summary trace's capture time
    opened_ms: int
    closed_ms: int
    observations: list[Observation]
    history: list[Observation]
    dropped_duplicates: int
    frame_offsets: list[int] = field(default_factory=list)  # every frame accounted for (see module doc)
    skipped_stale: int = 0               # of those, frames skipped unread because a newer one was waiting
    seen_product_ids: list[str] = field(default_factory=list)  # every product viewed so far, this window included

    @property
    def frames(self) -> int:
        return len(self.frame_seqs)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["observations"] = [o.to_dict() for o in self.observations]
        d["history"] = [o.to_dict() for o in self.history]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClosedWindow:
        return cls(**{**d, "observations": [Observation.from_dict(o) for o in d["observations"]],
                      "history": [Observation.from_dict(o) for o in d["history"]]})


@dataclass
class SessionState:
    last_window_seq: int = 0
    last_frame_seq: int = -1
    last_capture_ms: int = -1
    window: OpenWindow | None = None
    recent_url: str = ""                 # page of recent_hashes; a new URL starts a fresh list
    recent_hashes: list[int] = field(default_factory=list)
    recent_settled: bool = False         # this page visit already yielded a grounded observation
    history: list[Observation] = field(default_factory=list)
    seen_product_ids: list[str] = field(default_factory=list)
    frames_seen: int = 0
    duplicates_dropped: int = 0
    skipped_stale: int = 0
    replays_ignored: int = 0
    replayed: list[int] = field(default_factory=list)     # original offsets of dead-letter replays handled

    def to_dict(self) -> dict:
        return {"last_window_seq": self.last_window_seq, "replayed": list(self.replayed),
                "last_frame_seq": self.last_frame_seq,
                "last_capture_ms": self.last_capture_ms,
                "window": self.window.to_dict() if self.window else None,
                # hashes as hex: 64-bit ints lose precision in JSON readers that use doubles
                "recent_url": self.recent_url, "recent_hashes": [f"{h:x}" for h in self.recent_hashes],
                "recent_settled": self.recent_settled,
                "history": [o.to_dict() for o in self.history], "seen_product_ids": list(self.seen_product_ids),
                "frames_seen": self.frames_seen,
                "duplicates_dropped": self.duplicates_dropped, "skipped_stale": self.skipped_stale,
                "replays_ignored": self.replays_ignored}

    @classmethod
    def from_dict(cls, d: dict | None) -> SessionState:
        """A new state for None/{} (a session's first frame), else the stored one."""
        if not d:
            return cls()
        return cls(last_window_seq=d.get("last_window_seq", d.get("next_window_seq", 1) - 1),
                   replayed=list(d.get("replayed", [])), last_frame_seq=d["last_frame_seq"],
                   last_capture_ms=d.get("last_capture_ms", -1),
                   window=OpenWindow.from_dict(d["window"]) if d.get("window") else None,
                   recent_url=d.get("recent_url", ""), recent_hashes=[int(h, 16) for h in d["recent_hashes"]],
                   recent_settled=d.get("recent_settled", False),
                   history=[Observation.from_dict(o) for o in d["history"]],
                   seen_product_ids=list(d.get("seen_product_ids", [])),
                   frames_seen=d.get("frames_seen", 0), duplicates_dropped=d.get("duplicates_dropped", 0),
                   skipped_stale=d.get("skipped_stale", 0),
                   replays_ignored=d.get("replays_ignored", 0))


def is_replay(state: SessionState, frame: FrameMeta) -> bool:
    """A redelivered frame: neither its sequence number nor its capture time is newer than the last seen.

    Both must regress: a client that restarts its counter (or never sends one: the gateway then uses 0)
    still moves its capture clock forward, and so is not mistaken for a replay. A frame replayed from the
    dead letters a second time is one too (its first replay already accounted for it).
    """
    if frame.replay_of is not None and frame.replay_of in state.replayed:
        return True
    return frame.frame_seq <= state.last_frame_seq and frame.capture_ms <= state.last_capture_ms


def page_key(url: str) -> str:
    """A URL's page identity: the fragment (#reviews) does not make a new page."""
    return url.split("#", 1)[0]


def is_duplicate(state: SessionState, frame: FrameMeta, hash_: int,
                 max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE) -> bool:
    reads = len(state.recent_hashes)
    return (page_key(frame.page_url) == state.recent_url
            and reads >= MIN_READS_PER_VISIT
            and (state.recent_settled or reads >= MAX_READS_UNSETTLED)
            and is_near_duplicate(hash_, state.recent_hashes, max_distance))


def settles(observation: Observation) -> bool:
    """The observation shows what its page is for: the product on a product page, any signal elsewhere."""
    return bool(observation.product_id) if observation.kind == "product" else observation.grounded


def should_process(state: SessionState, frame: FrameMeta, hash_: int,
                   max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE) -> bool:
    """False for a replayed frame or a near-duplicate of a recent view: skip OCR, then add_frame(..., None, ...)."""
    return not is_replay(state, frame) and not is_duplicate(state, frame, hash_, max_distance)


def _close(state: SessionState, reason: str, now_ms: int) -> ClosedWindow:
    w = state.window
    assert w is not None and w.offsets
    # max(): offsets only grow in production; the counter guards callers whose frame_seq is not an offset.
    window_seq = max(w.newest_seq + 1, state.last_window_seq + 1)
    viewed = [o.product_id for o in w.observations
              if o.kind == "product" and o.product_id and o.product_confidence >= SEEN_MIN_CONFIDENCE]
    state.seen_product_ids = list(dict.fromkeys([*state.seen_product_ids, *viewed]))[-SEEN_LIMIT:]
    closed = ClosedWindow(
        window_seq=window_seq, reason=reason, page_url=w.page_url, frame_seqs=list(w.frame_seqs),
        first_capture_ms=min(w.capture_ms, default=w.newest_capture_ms),
        last_capture_ms=max(w.capture_ms, default=w.newest_capture_ms), opened_ms=w.opened_ms,
        closed_ms=now_ms, observations=list(w.observations), history=list(state.history),
        dropped_duplicates=w.dropped_duplicates, skipped_stale=w.skipped_stale, frame_offsets=sorted(w.offsets),
        seen_product_ids=list(state.seen_product_ids))
    state.last_window_seq = window_seq
    state.window = None
    state.history = trim_history([*state.history, *(o for o in w.observations if o.grounded)], HISTORY_LIMIT)
    return closed


def _page_key(o: Observation) -> tuple:
    return ("product", o.product_id) if o.kind == "product" and o.product_id else (o.kind, o.page_url)


def trim_history(observations: list[Observation], limit: int) -> list[Observation]:
    """At most `limit` observations, in order. Older reads of a page that has a newer read in the history go
    first, then the oldest: a long dwell on one page then never pushes the other products the shopper opened
    out of the summary."""
    excess = len(observations) - limit
    if excess <= 0:
        return list(observations)
    newest: set[tuple] = set()
    redundant: list[int] = []  # indices of reads repeated later, newest first
    for i in range(len(observations) - 1, -1, -1):
        key = _page_key(observations[i])
        if key in newest:
            redundant.append(i)
        newest.add(key)
    drop = set(redundant[::-1][:excess])  # oldest redundant reads first
    kept = [o for i, o in enumerate(observations) if i not in drop]
    return kept[-limit:]


def add_frame(state: SessionState, frame: FrameMeta, hash_: int, observation: Observation | None, now_ms: int,
              max_frames: int = DEFAULT_MAX_FRAMES,
              max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE, close_on_read: bool = True) -> list[ClosedWindow]:
    """Feed one frame (observation None if it was a duplicate or OCR failed); returns windows it closed (0-2).
    `close_on_read=False` leaves out the close on a visit's first read (tests of the other rules use it)."""
    if max_frames < 1:
        raise ValueError("max_frames must be >= 1")
    if is_replay(state, frame):
        state.replays_ignored += 1
        return []
    state.last_frame_seq = max(state.last_frame_seq, frame.frame_seq)
    state.last_capture_ms = max(state.last_capture_ms, frame.capture_ms)
    state.frames_seen += 1
    if frame.replay_of is not None:
        state.replayed = (state.replayed + [frame.replay_of])[-REPLAYED_REMEMBERED:]
    if is_duplicate(state, frame, hash_, max_distance):
        state.duplicates_dropped += 1
        if state.window is None:  # dwelling after a close: a window of duplicates only accounts for them
            state.window = OpenWindow(page_url=frame.page_url, opened_ms=now_ms, last_ms=now_ms)
        state.window.dropped_duplicates += 1
        state.window.account(frame)
        return []

    closed: list[ClosedWindow] = []
    if state.window is not None and page_key(state.window.page_url) != page_key(frame.page_url):
        closed.append(_close(state, "page_change", now_ms))
    if state.window is None:
        state.window = OpenWindow(page_url=frame.page_url, opened_ms=now_ms, last_ms=now_ms)
    w = state.window
    w.account(frame)
    w.frame_seqs.append(frame.frame_seq)
    w.hashes.append(hash_)
    w.capture_ms.append(frame.capture_ms)
    w.last_ms = now_ms
    if observation is not None:
        w.observations.append(observation)
    if page_key(frame.page_url) != state.recent_url:
        state.recent_url, state.recent_hashes, state.recent_settled = page_key(frame.page_url), [], False
    state.recent_hashes = (state.recent_hashes + [hash_])[-RECENT_HASHES:]
    newly_read = not state.recent_settled and observation is not None and settles(observation)
    state.recent_settled = state.recent_settled or newly_read
    if newly_read and close_on_read:
        # The page visit just yielded what its page is for (the product on a product page, a filter or a
        # search on a listing): that is new evidence, so it goes out now instead of waiting for the shopper to
        # leave the page, go idle or fill the window. Later frames of the visit open a window of their own.
        closed.append(_close(state, "read", now_ms))
    elif len(w.frame_seqs) >= max_frames:
        closed.append(_close(state, "frames", now_ms))
    return closed


def visit_read(state: SessionState, frame: FrameMeta) -> bool:
    """The frame belongs to the page visit under way and that visit already yielded what its page is for."""
    return state.recent_settled and page_key(frame.page_url) == state.recent_url


def skip_frame(state: SessionState, frame: FrameMeta, now_ms: int) -> bool:
    """Account a frame skipped unread because a newer frame of the same page visit was already waiting (latest
    wins under overload: services/summarizer/latest.py). It is not decoded, hashed or read, and does not move
    the idle timer, but it is in the next summary's `frame_offsets` and counted in its `skipped_stale`, so it
    is never silently lost. False (and nothing accounted) for a replayed frame, as add_frame does."""
    if is_replay(state, frame):
        state.replays_ignored += 1
        return False
    state.last_frame_seq = max(state.last_frame_seq, frame.frame_seq)
    state.last_capture_ms = max(state.last_capture_ms, frame.capture_ms)
    state.frames_seen += 1
    state.skipped_stale += 1
    if frame.replay_of is not None:
        state.replayed = (state.replayed + [frame.replay_of])[-REPLAYED_REMEMBERED:]
    if state.window is None:  # the newer frame that won follows at once and joins this window
        state.window = OpenWindow(page_url=frame.page_url, opened_ms=now_ms, last_ms=now_ms)
    state.window.skipped_stale += 1
    state.window.account(frame)
    return True


def unskip(state: SessionState, frame: FrameMeta) -> bool:
    """Take back skip_frame's accounting of a frame that is to be read after all: latest wins held the session's
    newest frame for a later batch while other sessions took their turn (services/summarizer/latest.py, rule 3).
    Only while the frame is still the session's newest and its window still holds it; then add_frame reads it as
    if it had just arrived. False, and nothing changed, otherwise: it stays accounted as skipped."""
    w = state.window
    if (frame.replay_of is not None or w is None or frame.frame_seq != state.last_frame_seq
            or frame.accounted_offset not in w.offsets):
        return False
    w.offsets.remove(frame.accounted_offset)
    w.skipped_stale -= 1
    state.skipped_stale -= 1
    state.frames_seen -= 1
    # No other frame of the session lies between: every earlier one was delivered, and accounted, before it.
    state.last_frame_seq = frame.frame_seq - 1
    if not w.offsets:  # the skip opened this window: the read opens it again
        state.window = None
    return True


def close_idle(state: SessionState, now_ms: int, idle_ms: int) -> ClosedWindow | None:
    """Close the open window if no distinct frame arrived for idle_ms (call from a periodic timer)."""
    if state.window is None or now_ms - state.window.last_ms < idle_ms:
        return None
    return _close(state, "idle", now_ms)
