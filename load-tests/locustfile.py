"""Load generator (Locust): shoppers whose screenshots stream into the gateway while their storefront reads
and clicks recommendations, the way a shop runs InteraRec. Weighted tasks, as in Online Boutique's
load generator:

| task | weight | what a real shop does |
|---|---|---|
| send_frame | 10 | the capture client posts the next screenshot (1-2 frames/s); visit sent: a new shopper |
| poll_recommendations | 3 | the shop's backend reads the session's latest recommendation |
| click_recommended | 1 | the shopper clicks a recommended product (feedback) |
| similar_products | 1 | a product page asks for similar products |

Frames are real Chromium screenshots of the demo shop (tests/fixtures/screens, with their URLs from
manifest.json), sent as a visit: home, listing or search, then product pages. A 404 on recommendations
before the pipeline has answered is expected and counted as such, not as a failure; everything else that
is not 2xx is a failure, including 429s, so capacity limits show in the report.

    make load-test                          # starts the stack, runs the shoppers, prints a summary
    locust -f load-tests/locustfile.py      # against a stack you run: set the variables below

INTERAREC_LOAD_GATEWAY_URL (default http://127.0.0.1:8500), INTERAREC_LOAD_STOREFRONT_URL
(http://127.0.0.1:8600), INTERAREC_LOAD_API_KEY (demo-key), INTERAREC_LOAD_SCREENS (tests/fixtures/screens),
INTERAREC_LOAD_SESSION_PREFIX (random): the n-th shopper to arrive uses session <prefix>-<n>.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from pathlib import Path

from locust import HttpUser, between, task

ROOT = Path(__file__).resolve().parents[1]
GATEWAY = os.environ.get("INTERAREC_LOAD_GATEWAY_URL", "http://127.0.0.1:8500").rstrip("/")
STOREFRONT = os.environ.get("INTERAREC_LOAD_STOREFRONT_URL", "http://127.0.0.1:8600").rstrip("/")
API_KEY = os.environ.get("INTERAREC_LOAD_API_KEY", "demo-key")
SCREENS = Path(os.environ.get("INTERAREC_LOAD_SCREENS", ROOT / "tests" / "fixtures" / "screens"))
# The n-th shopper to arrive in this run uses session <prefix>-<n>, so a runner can look its sessions up afterwards.
SESSION_PREFIX = os.environ.get("INTERAREC_LOAD_SESSION_PREFIX") or f"load-{uuid.uuid4().hex[:8]}"
SHOPPER_NUMBERS = itertools.count()


def load_screens(folder: Path) -> dict[str, list[dict]]:
    """Frames per layout, each with its image bytes, page URL and (product pages) the product id."""
    manifest = json.loads((folder / "manifest.json").read_text())
    by_layout: dict[str, list[dict]] = {}
    for frame in manifest["frames"]:
        frame = {**frame, "image": (folder / frame["file"]).read_bytes()}
        by_layout.setdefault(frame["layout"], []).append(frame)
    return by_layout


FRAMES = load_screens(SCREENS)


def visit(rng: random.Random) -> list[dict]:
    """One shopper's visit in one layout: an entry page, then 4-8 product pages, each seen for 2-3 frames."""
    frames = FRAMES[rng.choice(sorted(FRAMES))]
    entry = [f for f in frames if f["product_id"] is None]
    products = [f for f in frames if f["product_id"] is not None]
    pages = [rng.choice(entry)] + rng.sample(products, rng.randint(4, min(8, len(products))))
    return [page for page in pages for _ in range(rng.randint(2, 3))]


class Shopper(HttpUser):
    host = GATEWAY
    wait_time = between(0.5, 1.0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.arrive()

    def arrive(self) -> None:
        """A new shopper: a new session and visit. When a visit's frames are sent the shopper leaves and the
        next one arrives, as a shop's traffic turns over. Replaying the same visit instead would only send the
        gateway duplicates after its first pass (a 30-min soak read 26 frames and dropped 6,302) and hide both
        the summarizer's real load and the state each new session adds."""
        self.session = f"{SESSION_PREFIX}-{next(SHOPPER_NUMBERS)}"
        self.frames = visit(self.rng)
        self.seq = 0
        self.recommended: list[str] = []
        self.window_seq = 0

    @task(10)
    def send_frame(self) -> None:
        if self.seq >= len(self.frames):
            self.arrive()
        frame = self.frames[self.seq]
        self.seq += 1
        self.client.post(f"{GATEWAY}/v1/sessions/{self.session}/frames", data=frame["image"],
                         name="gateway: POST frame",
                         headers={"X-API-Key": API_KEY, "Content-Type": "image/jpeg", "X-Frame-Seq": str(self.seq),
                                  "X-Page-Url": frame["url"]})

    @task(3)
    def poll_recommendations(self) -> None:
        with self.client.get(f"{STOREFRONT}/v1/sessions/{self.session}/recommendations",
                             headers={"X-API-Key": API_KEY}, name="storefront: GET recommendations",
                             catch_response=True) as resp:
            if resp.status_code == 404:  # nothing recommended yet for this session
                resp.success()
            elif resp.status_code == 200:
                body = resp.json()
                self.recommended = [item["product_id"] for item in body.get("items", [])]
                self.window_seq = int(body.get("window_seq", 0))

    @task(1)
    def click_recommended(self) -> None:
        if not self.recommended:
            return
        self.client.post(f"{STOREFRONT}/v1/sessions/{self.session}/feedback", name="storefront: POST feedback",
                         headers={"X-API-Key": API_KEY},
                         json={"product_id": self.rng.choice(self.recommended), "event": "click",
                               "window_seq": self.window_seq})

    @task(1)
    def similar_products(self) -> None:
        product = self.rng.choice([f for f in self.frames if f["product_id"]])["product_id"]
        self.client.get(f"{STOREFRONT}/v1/products/{product}/similar", headers={"X-API-Key": API_KEY},
                        name="storefront: GET similar")
