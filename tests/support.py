"""Helpers shared by the end-to-end and reliability tests: storefront polling, a real shop's screenshots
replayed through the real capture client, topic readers, and the pipeline's delivery invariants."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import httpx
from google.protobuf.message import DecodeError
from kafka import KafkaConsumer, TopicPartition

from infra.local.stack import Stack
from services.capture.frames import Accepted, Frame, FrameUploader


def latest(stack: Stack, session_id: str) -> dict | None:
    resp = httpx.get(f"{stack.storefront_url}/v1/sessions/{session_id}/recommendations", timeout=5,
                     headers={"X-API-Key": stack.api_key})
    return resp.json() if resp.status_code == 200 else None


def wait_for(predicate, timeout_s: float, interval_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None


# ------------------------------------------------------------------------------------------ recorded shop pages


@dataclass(frozen=True)
class Shot:
    """One real screenshot of the demo shop, with the URL and title the capture client sends with it."""

    url: str
    title: str
    jpeg: bytes


async def _record(shop_url: str, paths: list[str], scroll_px: int) -> list[list[Shot]]:
    from playwright.async_api import async_playwright

    from services.shoppers.shopper import VIEWPORT, chromium_launch_options

    visits: list[list[Shot]] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium_launch_options())
        try:
            page = await (await browser.new_context(viewport=VIEWPORT, device_scale_factor=1)).new_page()
            for path in paths:
                await page.goto(shop_url.rstrip("/") + path, wait_until="load")
                shots = []
                for dy in (0, scroll_px):
                    if dy:
                        await page.evaluate(f"window.scrollTo(0, {dy})")
                        await page.wait_for_timeout(100)
                    jpeg = await page.screenshot(type="jpeg", quality=80, full_page=False)
                    if all(jpeg != shot.jpeg for shot in shots):  # a page shorter than the viewport does not scroll
                        shots.append(Shot(page.url, await page.title(), jpeg))
                visits.append(shots)
        finally:
            await browser.close()
    return visits


def record_visits(shop_url: str, paths: list[str], scroll_px: int = 260) -> list[list[Shot]]:
    """Real headless-Chromium screenshots of the shop: per path, the top of the page and, if the page scrolls,
    a scrolled view."""
    visits = asyncio.run(_record(shop_url, paths, scroll_px))
    distinct = {shot.jpeg for visit in visits for shot in visit}
    assert len(distinct) >= len(paths), f"{len(paths)} pages gave only {len(distinct)} distinct screenshots"
    return visits


# ------------------------------------------------------------------------------------------ frame sender


@dataclass
class SenderResult:
    accepted: list[Accepted] = field(default_factory=list)
    sent: int = 0
    duplicates: int = 0
    failed: int = 0
    retried: int = 0
    # wall-clock ms of each frame's capture time, by seq (recovery is measured from frames captured after a fault)
    capture_ms: dict[int, int] = field(default_factory=dict)


class FrameSender:
    """Browses recorded visits in a loop at `fps` through the real capture client (FrameUploader, with its
    retries), in a background thread, until stop(). A deterministic stand-in for the browser where the browser
    itself adds nothing to a fault: the pixels are the shop's own, the HTTP path is the capture agent's.
    The loop must hold more distinct screenshots than the gateway's per-session exact-duplicate memory, so a
    revisited page is a new frame again."""

    def __init__(self, stack: Stack, session_id: str, visits: list[list[Shot]], fps: float = 2.0,
                 dwell_frames: int = 10):
        self.stack = stack
        self.session_id = session_id
        self.visits = visits
        self.interval = 1.0 / fps
        self.dwell_frames = dwell_frames
        self.result = SenderResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=f"sender-{session_id}",
                                        daemon=True)

    def start(self) -> FrameSender:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 90.0) -> SenderResult:
        """Stop after the frame in flight (which keeps its retries: a frame is only ever sent or failed)."""
        self._stop.set()
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the frame sender did not stop"
        return self.result

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
            uploader = FrameUploader(client, self.stack.gateway_url, self.stack.api_key, self.session_id)
            seq = 0
            try:
                while not self._stop.is_set():
                    for visit in self.visits:
                        # a shopper dwells ~5 s per page: the capture client keeps sending the same screenshot
                        # (exact duplicates the gateway drops), then the scrolled view if the page scrolls. One new
                        # page per 5 s is OCR work a busy 2-core machine keeps up with, so a fault's backlog drains.
                        dwell = [visit[0]] * (self.dwell_frames - len(visit) + 1) + visit[1:]
                        for shot in dwell:
                            if self._stop.is_set():
                                return
                            seq += 1
                            now = int(time.time() * 1000)
                            self.result.capture_ms[seq] = now
                            await uploader.post(Frame(seq, now, shot.url, shot.title, shot.jpeg))
                            await asyncio.sleep(self.interval)
            finally:
                r = self.result
                r.accepted, r.sent, r.duplicates = list(uploader.accepted), uploader.sent, uploader.duplicates
                r.failed, r.retried = uploader.failed, uploader.retried


# ------------------------------------------------------------------------------------------ topic readers


def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list:
    """Every record now in `topic` (all partitions, from the beginning), in offset order per partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="interarec-test-reader", request_timeout_ms=15_000,
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records: list = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} did not reach its end offsets {end} in {timeout_s:.0f} s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


# ------------------------------------------------------------------------------------------ visible recommendations


class StorefrontWatcher:
    """Polls the storefront for a session's latest recommendation, as a shop page would, and records every
    change it sees (window_seq, items): what a shopper would have been shown, in order."""

    def __init__(self, stack: Stack, session_id: str, interval_s: float = 0.25):
        self.stack = stack
        self.session_id = session_id
        self.interval_s = interval_s
        self.seen: list[tuple[int, tuple[str, ...], int, float]] = []  # window_seq, items, capture ms, seen at
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{session_id}", daemon=True)

    def start(self) -> StorefrontWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        url = f"{self.stack.storefront_url}/v1/sessions/{self.session_id}/recommendations"
        with httpx.Client(timeout=3.0, headers={"X-API-Key": self.stack.api_key}) as client:
            while not self._stop.is_set():
                try:
                    resp = client.get(url)
                    if resp.status_code == 200:
                        rec = resp.json()
                        entry = (rec["window_seq"], tuple(i["product_id"] for i in rec["items"]),
                                 rec["capture_unix_ms"], time.monotonic())
                        if not self.seen or self.seen[-1][:2] != entry[:2]:
                            self.seen.append(entry)
                except (httpx.HTTPError, ValueError, KeyError):
                    self.errors += 1  # the storefront may be the process under fault
                self._stop.wait(self.interval_s)

    def first_after(self, capture_ms: int) -> float | None:
        """monotonic time at which a recommendation built from a frame captured at/after `capture_ms` showed."""
        return next((at for _, _, cap, at in self.seen if cap >= capture_ms), None)


# ------------------------------------------------------------------------------------------ delivery invariants


@dataclass
class Accounting:
    missing: list[Accepted]
    in_summaries: int
    in_dead_letters: int
    dead_letter_reasons: list[str]


def values_at(bootstrap: str, topic: str, partition: int, key: bytes, offsets: list[int],
              timeout_s: float = 30.0) -> list[bytes | None]:
    """The values `key`'s records hold at these offsets of one partition (None where there is none)."""
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=4 << 20, fetch_max_bytes=8 << 20)
    got: dict[int, bytes] = {}
    try:
        consumer.assign([tp])
        consumer.seek(tp, min(offsets))
        deadline = time.monotonic() + timeout_s
        while not set(offsets) <= set(got) and time.monotonic() < deadline:
            for rec in consumer.poll(timeout_ms=1000).get(tp, []):
                if rec.key == key:
                    got[rec.offset] = rec.value
    finally:
        consumer.close()
    return [got.get(offset) for offset in offsets]


def keys_of(session_id: str, tenant: str = "demo") -> set[str]:
    """The Kafka key of a session's messages: tenant-scoped (services/common/keys.py)."""
    from services.common.keys import session_key

    return {session_key(tenant, session_id)}


def frames_accounted(bootstrap: str, session_id: str, accepted: list[Accepted]) -> Accounting:
    """Which accepted frames a summary's window or a dead letter (with a reason) accounts for."""
    from interarec.v1 import summaries_pb2
    from services.common.topics import FRAMES, SUMMARIES

    keys = keys_of(session_id)
    covered: set[tuple[int, int]] = set()
    for r in read_topic(bootstrap, SUMMARIES.name):
        if r.key is None or r.key.decode("utf-8", "replace") not in keys:
            continue
        s = summaries_pb2.BehaviourSummary()
        try:
            s.ParseFromString(r.value)
        except DecodeError:  # poison a test put there under this key; the decomposer dead-letters it
            continue
        covered.update(summary_frames(s, r.partition))
    dead: dict[tuple[int, int], str] = {}
    for dl in dead_letters(bootstrap):
        if dl.source_topic == FRAMES.name and (dl.error_type or dl.error_message):
            dead[(dl.partition, dl.offset)] = f"{dl.stage}: {dl.error_type}: {dl.error_message}"
    missing = [a for a in accepted if (a.partition, a.offset) not in covered and (a.partition, a.offset) not in dead]
    in_dead = [a for a in accepted if (a.partition, a.offset) in dead]
    return Accounting(missing, sum(1 for a in accepted if (a.partition, a.offset) in covered), len(in_dead),
                      sorted({dead[(a.partition, a.offset)] for a in in_dead}))


def summary_frames(summary, partition: int) -> set[tuple[int, int]]:
    """(partition, offset) of every frame a summary accounts for: its window's frames, near-duplicates and frames
    whose OCR failed included. A session's frames live in one partition (`frames_partition`)."""
    return {(summary.frames_partition, int(o)) for o in summary.frame_offsets}


def dead_letters(bootstrap: str) -> list:
    """Every dead letter now stored, decoded: frames' (kept as long as the frames topic) and other stages'."""
    from interarec.v1 import dead_letters_pb2
    from services.common.topics import DEAD_LETTER_TOPICS

    out = []
    for topic in DEAD_LETTER_TOPICS:
        for r in read_topic(bootstrap, topic.name):
            dl = dead_letters_pb2.DeadLetter()
            dl.ParseFromString(r.value)
            out.append(dl)
    return out


def recommendation_windows(bootstrap: str, session_id: str) -> list[tuple[int, tuple[str, ...]]]:
    """(window_seq, product ids) of every recommendation published for the session, in publication order."""
    from interarec.v1 import recommendations_pb2
    from services.common.topics import RECOMMENDATIONS

    keys, published = keys_of(session_id), []
    for r in read_topic(bootstrap, RECOMMENDATIONS.name):
        if r.key is None or r.key.decode("utf-8", "replace") not in keys or r.value is None:
            continue
        rec = recommendations_pb2.Recommendation()
        try:
            rec.ParseFromString(r.value)
        except DecodeError:  # poison a test put there; the storefront counts and skips it
            continue
        published.append((rec.window_seq, tuple(i.product_id for i in rec.items)))
    return published


def first_problem_in_windows(published: list[tuple[int, tuple[str, ...]]]) -> str | None:
    """Publication is at-least-once: a worker killed after its output was acknowledged but before it recorded
    the input as done publishes that window again on restart (the storefront drops it: not visible twice). So on
    the topic each new window_seq must be higher than every earlier one, and a repeated window_seq must be the
    same recommendation re-sent, never a different one under an old number."""
    first: dict[int, tuple[str, ...]] = {}
    highest = 0
    for seq, items in published:
        if seq in first:
            if items != first[seq]:
                return f"window {seq} published twice with different items: {first[seq]} then {items}"
            continue
        if seq <= highest:
            return f"window_seq went backwards: {seq} after {highest} (all: {[s for s, _ in published]})"
        first[seq], highest = items, seq
    return None


def republished(published: list[tuple[int, tuple[str, ...]]]) -> int:
    return len(published) - len({seq for seq, _ in published})
