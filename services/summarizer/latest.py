"""Latest wins under overload (pure, no I/O): which frames of a lookahead batch need not be read.

The agent takes frames in batches of what is already waiting in its stream buffer (`take_events`, up to
INTERAREC_SUMMARIZER_LOOKAHEAD records, at most a few ms of waiting). When the summarizer keeps up, a batch
holds at most one frame of a session's current page (frames come 0.25-1 s apart, OCR takes ~0.15 s). When it
falls behind, frames wait and the batch holds several frames of the same page visit: only the newest of them
is read, the older ones are skipped unread (window.skip_frame accounts them in the next summary). So the
worker spends its OCR on what the shopper shows now instead of building lag on what they showed seconds ago.

A page visit is a run of one session's frames on the same page (URL without fragment): a frame on another
page in between starts a new visit, so every page the shopper opened keeps its newest frame and is still
read (a product view is never lost to latest-wins, only repeated views of it).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.core.reading.window import page_key

# (session key, page URL) of each record of a batch; None for a record that is no frame (a tick, or
# undecodable: the normal handler deals with it).
FrameRef = tuple[str, str] | None


def superseded(batch: Sequence[FrameRef]) -> list[bool]:
    """True for each frame with a newer frame of the same session's same page visit later in the batch."""
    visit: dict[str, tuple[str, int]] = {}  # session -> (page of its current visit, visit number)
    keys: list[tuple[str, int] | None] = []
    for ref in batch:
        if ref is None:
            keys.append(None)
            continue
        session, url = ref
        page = page_key(url)
        current = visit.get(session)
        if current is None or current[0] != page:
            current = (page, current[1] + 1 if current else 0)
            visit[session] = current
        keys.append((session, current[1]))
    out, newest = [False] * len(keys), set()
    for i in range(len(keys) - 1, -1, -1):
        if keys[i] is None:
            continue
        out[i] = keys[i] in newest
        newest.add(keys[i])
    return out
