"""Viewport screenshots at a fixed rate, posted to the gateway in capture order.

Capturing and posting are separate tasks joined by a small queue, so a slow gateway never slows the
capture cadence; if the queue fills up the oldest frame is dropped (counted), never the newest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx

from services.common.backoff import Backoff, parse_retry_after

log = logging.getLogger("interarec.capture")

JPEG_QUALITY = 80
# A frame the gateway could not take (connection refused/reset, 5xx, 429) is retried with capped exponential
# backoff for up to this long: a restarting gateway or a broker outage (the gateway answers 503) then delays
# frames instead of losing them. A 4xx other than 429 is about the frame itself and is never retried.
RETRY_BUDGET_S = 60.0
BACKOFF = Backoff(first_s=0.25, max_s=2.0)
QUEUE_SIZE = 16


@dataclass(frozen=True)
class Frame:
    seq: int
    capture_ms: int
    url: str
    title: str
    jpeg: bytes


def header_safe(text: str, limit: int = 300) -> str:
    """HTTP headers carry latin-1 at best; keep printable ASCII so every gateway parses them the same."""
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:limit]


@dataclass(frozen=True)
class Accepted:
    """A frame the gateway answered 202 for: where Kafka stored it."""

    seq: int
    partition: int
    offset: int


def retry_after_s(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


class FrameUploader:
    """POSTs frames to {gateway}/v1/sessions/{sid}/frames; counts accepted, duplicate and failed frames and
    keeps where each accepted frame was stored (the gateway's 202 names its partition and offset)."""

    def __init__(self, client: httpx.AsyncClient, gateway_url: str, api_key: str, session_id: str,
                 retry_budget_s: float = RETRY_BUDGET_S):
        self.client = client
        self.url = f"{gateway_url.rstrip('/')}/v1/sessions/{session_id}/frames"
        self.api_key = api_key
        self.session_id = session_id
        self.retry_budget_s = retry_budget_s
        self.sent = 0        # 2xx: accepted or an exact duplicate the gateway already has
        self.duplicates = 0  # 200 duplicate
        self.failed = 0
        self.retried = 0     # extra attempts made (a measure of how long faults held frames up)
        self.accepted: list[Accepted] = []

    async def post(self, frame: Frame) -> bool:
        headers = {
            "Content-Type": "image/jpeg",
            "X-API-Key": self.api_key,
            "X-Frame-Seq": str(frame.seq),
            "X-Capture-Time": str(frame.capture_ms),
            "X-Page-Url": header_safe(frame.url, 2000),
            "X-Page-Title": header_safe(frame.title),
        }
        problem = ""
        deadline = time.monotonic() + self.retry_budget_s
        attempt = 0
        while True:
            attempt += 1
            retry_after = None
            try:
                response = await self.client.post(self.url, content=frame.jpeg, headers=headers)
            except httpx.HTTPError as exc:  # connection refused/reset, timeouts: worth a retry
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= response.status_code < 300:
                    self._record(frame, response)
                    return True
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # a 4xx is about this frame or our key; repeating it will not help
                retry_after = retry_after_s(response)
            wait = BACKOFF.delay_s(attempt, retry_after_s=retry_after)
            if time.monotonic() + wait > deadline:
                break
            if self.retried % 20 == 0:
                log.info("gateway did not take frame %d (%s); retrying", frame.seq, problem,
                         extra={"session_id": self.session_id})
            self.retried += 1
            await asyncio.sleep(wait)
        self.failed += 1
        if self.failed <= 3 or self.failed % 20 == 0:  # a dead gateway must not flood the log
            log.warning("frame %d rejected (%d failed so far): %s", frame.seq, self.failed, problem,
                        extra={"session_id": self.session_id})
        return False

    def _record(self, frame: Frame, response: httpx.Response) -> None:
        self.sent += 1
        try:
            body = response.json()
        except ValueError:
            body = {}
        if body.get("status") == "duplicate":
            self.duplicates += 1
        elif "partition" in body and "offset" in body:
            self.accepted.append(Accepted(frame.seq, int(body["partition"]), int(body["offset"])))


class FrameStreamer:
    """Screenshots `page` every 1/fps seconds and hands the frames to an uploader."""

    def __init__(self, page, uploader: FrameUploader, fps: float = 2.0):
        if fps <= 0:
            raise ValueError("fps must be > 0")
        self.page = page
        self.uploader = uploader
        self.interval = 1.0 / fps
        self.seq = 0
        self.dropped = 0
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._capture_task: asyncio.Task | None = None
        self._send_task: asyncio.Task | None = None

    async def start(self) -> None:
        self._send_task = asyncio.create_task(self._send_loop(), name="frame-sender")
        self._capture_task = asyncio.create_task(self._capture_loop(), name="frame-capture")

    async def stop(self, drain_timeout_s: float = RETRY_BUDGET_S + 15.0) -> None:
        """Stop capturing, then let queued frames go out (bounded wait)."""
        if self._capture_task:
            self._capture_task.cancel()
            await asyncio.gather(self._capture_task, return_exceptions=True)
        if self._send_task:
            async def drain() -> None:
                await self._queue.put(None)
                await self._send_task

            try:
                await asyncio.wait_for(drain(), drain_timeout_s)
            except TimeoutError:
                self._send_task.cancel()
                await asyncio.gather(self._send_task, return_exceptions=True)
                left = sum(1 for f in self._drain_queue() if f is not None)
                self.uploader.failed += left
                log.warning("gave up on %d queued frames after %.0f s", left, drain_timeout_s,
                            extra={"session_id": self.uploader.session_id})

    def _drain_queue(self) -> list[Frame | None]:
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def _location(self) -> tuple[str, str]:
        # one evaluate in the current document: URL and title always belong together
        url, title = await asyncio.wait_for(self.page.evaluate("() => [location.href, document.title]"), 2.0)
        return str(url), str(title)

    async def capture_once(self) -> Frame | None:
        before = await self._location()
        capture_ms = int(time.time() * 1000)
        jpeg = await self.page.screenshot(type="jpeg", quality=JPEG_QUALITY, full_page=False, timeout=5000)
        if await self._location() != before:
            return None  # navigated mid-shot: the picture may belong to either page
        self.seq += 1
        return Frame(self.seq, capture_ms, before[0], before[1], jpeg)

    async def _capture_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += self.interval
            if loop.time() > next_at + self.interval:  # fell behind (slow screenshot): skip, don't burst
                next_at = loop.time() + self.interval
            try:
                frame = await self.capture_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # navigation in progress, page closed: try again next tick
                log.debug("screenshot skipped: %s", exc)
                continue
            if frame is not None:
                self._enqueue(frame)

    async def capture_now(self) -> None:
        """Take a frame right away, besides the periodic ones: called once a page has rendered, so every page
        visit is captured however short it is or however busy the machine (a missed visit is a lost view)."""
        try:
            frame = await self.capture_once()
        except Exception as exc:  # navigation in progress, page closed
            log.debug("screenshot skipped: %s", exc)
            return
        if frame is not None:
            self._enqueue(frame)

    def _enqueue(self, frame: Frame) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(frame)

    async def _send_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None:
                return
            try:
                await self.uploader.post(frame)
            except Exception:  # never let one frame kill the stream
                self.uploader.failed += 1
                log.exception("posting frame %d failed", frame.seq, extra={"session_id": self.uploader.session_id})
