"""Run personas in a real browser against the demo shop and save each session for replay; in `live` mode the
whole pipeline runs too (real Kafka, the five services) and every recommendation it published is recorded.

One session directory per persona: frames (<seq>.jpg + frames.jsonl), session.json (the plan, the actions with
their times, the live recommendations). A replay (services/eval/replay.py) needs nothing else."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from services.common.catalog import Catalog
from services.shoppers.persona_shopper import run_persona
from services.shoppers.personas import Persona

SESSION_FILE = "session.json"
FINAL_WAIT_S = 60.0  # after the shopper is done, how long the pipeline may take to reflect every view
SESSION_TIMEOUT_S = 600.0  # a persona's whole browse; a browser that hangs must not stall the run


class RecommendationLog:
    """Follows one session's SSE stream in a thread and keeps every recommendation with its arrival time."""

    def __init__(self, storefront_url: str, session_id: str):
        self.url = f"{storefront_url}/v1/sessions/{session_id}/stream"
        self.recs: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self) -> RecommendationLog:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=35)

    def _follow(self) -> None:
        while not self.stop.is_set():
            try:
                with httpx.Client(timeout=httpx.Timeout(5.0, read=2.0)) as client, client.stream("GET", self.url) as r:
                    event = None
                    for line in r.iter_lines():
                        if self.stop.is_set():
                            return
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:") and event == "recommendation":
                            rec = json.loads(line[5:])
                            self.recs.append({
                                "received_ms": int(time.time() * 1000), "window_seq": rec["window_seq"],
                                "capture_unix_ms": rec.get("capture_unix_ms", 0),
                                "items": [i["product_id"] for i in rec.get("items", [])],
                                "viewed": [v["product_id"] for v in rec.get("summary", {}).get("viewed_products", [])],
                            })
            except (httpx.HTTPError, json.JSONDecodeError):
                self.stop.wait(0.5)

    def wait_for(self, opened: list[str], timeout_s: float) -> None:
        deadline = time.time() + timeout_s
        want = set(opened)
        while time.time() < deadline:
            if self.recs and want <= set(self.recs[-1]["viewed"]):
                return
            time.sleep(0.5)


def record_session(persona: Persona, catalog: Catalog, out_dir: Path, shop_url: str, layout: str, *,
                   gateway_url: str | None = None, api_key: str = "", storefront_url: str | None = None,
                   fps: float = 2.0, progress: Callable[[str], None] | None = None) -> Path:
    """Browse as the persona; save its frames and session.json under out_dir/<persona id>/."""
    directory = out_dir / persona.id
    session_id = f"eval-{uuid.uuid4().hex[:12]}"  # nothing about the persona: the pipeline sees this id
    say = progress or (lambda line: None)
    recs: list[dict] = []
    if storefront_url:
        with RecommendationLog(storefront_url, session_id) as log:
            run = asyncio.run(asyncio.wait_for(run_persona(
                shop_url, persona, catalog, directory, session_id, gateway_url=gateway_url, api_key=api_key, fps=fps,
                progress=say), SESSION_TIMEOUT_S))
            log.wait_for(run.opened, FINAL_WAIT_S)
            recs = list(log.recs)
    else:
        run = asyncio.run(asyncio.wait_for(run_persona(shop_url, persona, catalog, directory, session_id, fps=fps,
                                                       progress=say), SESSION_TIMEOUT_S))
    meta = {
        "persona": persona.id, "group": persona.group, "seed": persona.seed, "layout": layout,
        "session_id": session_id, "started_ms": run.started_ms, "elapsed_s": round(run.elapsed_s, 2),
        "opened": run.opened, "actions": run.actions, "frames_sent": run.frames_sent,
        "frames_failed": run.frames_failed, "steps": [s.to_dict() for s in persona.steps],
        "live": bool(storefront_url), "recommendations": recs,
    }
    (directory / SESSION_FILE).write_text(json.dumps(meta, indent=1))
    return directory
