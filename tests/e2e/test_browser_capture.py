"""The in-page capture script (capture-js, built bundle) in real headless Chromium, sending to the real gateway
on the real broker with a session token: what reaches the frames topic is read back and OCR'd."""

from __future__ import annotations

import io
import re
import time
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from PIL import Image
from prometheus_client import REGISTRY

from infra.kafka.broker import free_port
from infra.local.served import Served
from interarec.v1 import frames_pb2
from services.common.keys import session_key
from services.common.session_tokens import SessionTokens
from services.common.tenants import ApiKeys, TenantOrigins
from services.common.topics import FRAMES
from services.core.reading.ocr import ocr_lines
from services.demo_shop.capture import BUNDLE
from services.gateway.app import GatewaySettings, create_app
from services.gateway.backpressure import PipelineLag
from services.shoppers.shopper import chromium_launch_options, chromium_path

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(chromium_path()).exists(), reason="needs Chromium (INTERAREC_CHROMIUM_PATH)"),
    pytest.mark.skipif(not BUNDLE.is_file(), reason="capture script not built: make capture-js"),
]

SECRET = b"e2e-browser-capture-secret-32-bytes-or-more"
TENANT = "acme"
EMAIL = "jane.doe@example.com"
PHONE = "+1 (415) 555-0134"
CARD = "4111 1111 1111 1111"


def _page(body: str, start: str) -> str:
    return f"""<!doctype html><html><head><title>Test page</title>
<style>body {{ font: 22px sans-serif; margin: 40px; background: #fff; color: #111 }}
input, textarea {{ font: 22px sans-serif; width: 520px; padding: 6px; display: block; margin: 8px 0 20px }}</style>
</head><body>{body}
<script src="/interarec-capture.js"></script>
<script>{start}</script></body></html>"""


FORM = f"""<h1>Delivery details</h1>
<label>E-mail</label><input id="email" type="email">
<label>Phone</label><input id="phone" type="tel">
<label>Card number</label><input id="card" inputmode="numeric">
<label>Notes</label><textarea id="notes"></textarea>
<p>Questions? Write to {EMAIL} or call {PHONE}.</p>
<p>Paid with card {CARD} last time.</p>
<p data-interarec-mask>Loyalty member Jane Doe, 12 Acacia Avenue</p>
<p>Fresh arrivals every Monday</p>"""

PLAIN = "<h1>Fresh arrivals every Monday</h1><p>Trail shoes, rain jackets and more.</p>"


class PageServer:
    """Serves the bundle and test pages; mints each page's session token server side, like a shop's backend."""

    def __init__(self):
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.gateway_url = ""
        self.tokens = SessionTokens(SECRET, ttl_s=300)
        app = FastAPI()

        @app.get("/interarec-capture.js")
        async def script():
            return FileResponse(BUNDLE, media_type="text/javascript")

        @app.get("/img/{kind}.png")
        async def image(kind: str):
            buf = io.BytesIO()
            Image.new("RGB", (200, 200), (200, 30, 30)).save(buf, format="PNG")
            # "cors": a CDN that allows the shop's origin; anything else: one that sends no CORS header
            headers = {"Access-Control-Allow-Origin": self.origin} if kind == "cors" else {}
            return Response(buf.getvalue(), media_type="image/png", headers=headers)

        @app.get("/token/{session}")
        async def token(session: str):
            return JSONResponse({"token": self.tokens.mint(TENANT, session, time.time())[0]})

        @app.get("/{kind}/{session}", response_class=HTMLResponse)
        @app.get("/{kind}/{session}/{rest:path}", response_class=HTMLResponse)
        async def page(kind: str, session: str, rest: str = ""):
            start = (f"InteraRec.start({{gateway: {self.gateway_url!r}, sessionId: {session!r}, "
                     f"tokenUrl: '/token/{session}', fps: 2, settleMs: 200}});")
            if kind != "noconsent":
                start += "InteraRec.consent(true);"
            if kind == "images":  # product pictures from another origin (localhost vs 127.0.0.1)
                cdn = f"http://localhost:{self.port}/img"
                body = (f'<h1>Pictures</h1><img id="cors" src="{cdn}/cors.png" width="200" height="200">'
                        f'<img id="nocors" src="{cdn}/nocors.png" width="200" height="200" style="margin-left:40px">')
                return _page(body, start)
            return _page(FORM if kind in ("form", "checkout") else PLAIN, start)

        self.app = app


@pytest.fixture(scope="module")
def servers(kafka_bootstrap):
    pages = PageServer()
    settings = GatewaySettings(host="127.0.0.1", port=0, bootstrap=kafka_bootstrap,
                               api_keys=ApiKeys.from_plain({"unused-key": TENANT}),
                               max_upload_bytes=8 * 1024 * 1024, ack_timeout_s=10, token_secret=SECRET,
                               origins=TenantOrigins.parse(f"{TENANT}={pages.origin}"))
    gateway_app = create_app(settings)
    pages.gateway_app = gateway_app
    with Served(gateway_app) as gateway:  # ready once its lifespan has started the producer
        pages.gateway_url = gateway.url
        with Served(pages.app, pages.port, lifespan=False, ready_path=None):
            yield pages


def frames_of(bootstrap: str, session: str, settle_s: float = 3.0, tenant: str = TENANT) -> list[frames_pb2.Frame]:
    """Every frame of the session on the topic (read until nothing new arrives for settle_s)."""
    key = session_key(tenant, session).encode()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=int(settle_s * 1000))
    tps = [TopicPartition(FRAMES.name, p) for p in consumer.partitions_for_topic(FRAMES.name)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    found = []
    for record in consumer:
        if record.key == key:
            frame = frames_pb2.Frame()
            frame.ParseFromString(record.value)
            if frame.control == frames_pb2.FRAME_CONTROL_NONE:
                found.append(frame)
    consumer.close()
    return found


def browse(url: str, *, act=None, seconds: float = 4.0, init_script: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_launch_options())
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            if init_script:
                page.add_init_script(init_script)
            page.goto(url)
            if act:
                act(page)
            page.wait_for_timeout(seconds * 1000)
            stats = page.evaluate("InteraRec.stats()")
        finally:
            browser.close()
    assert not errors, errors
    return stats


def _type_personal_data(page) -> None:
    page.click("#email")
    page.keyboard.type(EMAIL, delay=20)
    page.click("#phone")
    page.keyboard.type(PHONE, delay=20)
    page.click("#card")
    page.keyboard.type(CARD, delay=20)
    page.click("#notes")
    page.keyboard.type(f"call me on {PHONE} or mail {EMAIL}", delay=10)
    # Typing alone changes no pixel of a frame (fields are drawn as boxes); a page echoing what was typed
    # does, and its echo is plain text that must be masked too.
    page.evaluate("""(s) => document.querySelector('h1').insertAdjacentHTML('afterend',
        `<p>Saved: ${s.join(' / ')}</p>`)""", [EMAIL, PHONE, CARD])


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_typed_and_shown_personal_data_never_reaches_a_frame(servers, kafka_bootstrap):
    session = f"form-{uuid.uuid4().hex[:8]}"
    stats = browse(f"{servers.origin}/form/{session}", act=_type_personal_data, seconds=3)
    frames = frames_of(kafka_bootstrap, session)
    assert stats["sent"] >= 2 and len(frames) == stats["sent"], str(stats)
    texts = []
    for frame in frames:
        image = Image.open(io.BytesIO(frame.image))
        assert image.size == (1280, 800)
        texts.append(" ".join(ln.text for ln in ocr_lines(image)))
    # the OCR does read these frames: the page's own text is there
    assert all("Delivery details" in t and "Monday" in t for t in texts), texts
    for text in texts:
        squeezed = text.replace(" ", "").lower()
        assert "jane.doe" not in squeezed and "example.com" not in squeezed, text
        assert "5550134" not in _digits(text) and "4111111111" not in _digits(text), text
        assert "Acacia" not in text, text  # the data-interarec-mask element
    assert {f.page_url for f in frames} == {f"{servers.origin}/form/{session}"}


def test_without_consent_nothing_is_sent(servers, kafka_bootstrap):
    session = f"noconsent-{uuid.uuid4().hex[:8]}"
    stats = browse(f"{servers.origin}/noconsent/{session}", seconds=3)
    assert stats["started"] and not stats["consent"] and stats["seq"] == 0
    assert frames_of(kafka_bootstrap, session) == []


def test_a_hidden_tab_sends_nothing(servers, kafka_bootstrap):
    session = f"hidden-{uuid.uuid4().hex[:8]}"
    # Headless Chromium reports every page visible; the page is told it is hidden the way a background tab is.
    hidden = ("Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'});"
              "Object.defineProperty(document, 'hidden', {get: () => true});")
    stats = browse(f"{servers.origin}/plain/{session}", seconds=3, init_script=hidden)
    assert stats["consent"] and stats["seq"] == 0
    assert frames_of(kafka_bootstrap, session) == []


def test_checkout_pages_are_never_captured_while_other_pages_are(servers, kafka_bootstrap):
    blocked, control = f"co-{uuid.uuid4().hex[:8]}", f"ok-{uuid.uuid4().hex[:8]}"
    stats = browse(f"{servers.origin}/checkout/{blocked}", seconds=3)
    assert stats["consent"] and stats["seq"] == 0
    control_stats = browse(f"{servers.origin}/plain/{control}", seconds=3)
    assert control_stats["sent"] >= 1
    assert frames_of(kafka_bootstrap, blocked) == []
    assert len(frames_of(kafka_bootstrap, control)) == control_stats["sent"]


def test_unchanged_pixels_are_not_sent_again(servers, kafka_bootstrap):
    session = f"still-{uuid.uuid4().hex[:8]}"
    stats = browse(f"{servers.origin}/plain/{session}", seconds=4)
    # 2 frames/s for 4 s on a page that never changes: one frame, the rest skipped in the browser
    assert stats["sent"] == 1 and stats["skipped"] >= 4, stats
    assert len(frames_of(kafka_bootstrap, session)) == 1


def test_global_privacy_control_means_no_capture_even_with_consent(servers, kafka_bootstrap):
    session = f"gpc-{uuid.uuid4().hex[:8]}"
    gpc = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"
    stats = browse(f"{servers.origin}/plain/{session}", seconds=3, init_script=gpc)
    assert stats["consent"] and stats["seq"] == 0
    assert frames_of(kafka_bootstrap, session) == []


def test_cross_origin_images_render_when_the_cdn_allows_the_shop_and_are_grey_boxes_when_not(servers, kafka_bootstrap):
    session = f"img-{uuid.uuid4().hex[:8]}"
    stats = browse(f"{servers.origin}/images/{session}", seconds=3)
    frames = frames_of(kafka_bootstrap, session)
    assert stats["sent"] >= 1 and frames, str(stats)
    image = Image.open(io.BytesIO(frames[-1].image)).convert("RGB")
    # the two 200x200 pictures sit below the heading, 40 px apart (body margin 40 px)
    allowed = image.getpixel((40 + 100, 140 + 100))
    refused = image.getpixel((40 + 200 + 40 + 100 + 4, 140 + 100))
    assert abs(allowed[0] - 200) < 30 and allowed[1] < 70 and allowed[2] < 70, allowed
    assert all(abs(c - ref) < 20 for c, ref in zip(refused, (209, 213, 219), strict=True)), refused


def test_the_script_waits_out_the_gateways_back_pressure_signal(servers, kafka_bootstrap):
    """While the pipeline is behind, the gateway answers 429 pipeline_behind with Retry-After 3: the script
    (reading Retry-After through CORS) tries again after 3 s, not on its own 0.25-4 s backoff, which would
    come back 4 times in 4 s."""
    group = f"lagging-{uuid.uuid4().hex[:6]}"  # never committed: every frame on the topic is lag
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for n in range(3):
        producer.send(FRAMES.name, key=f"t/lag-{n}".encode(), value=b"x")
    producer.close()
    lagging = PipelineLag(kafka_bootstrap, group, max_lag=2, interval_s=3)
    lagging.start()
    deadline = time.monotonic() + 20
    while (lagging.lag or 0) <= 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    ctx = servers.gateway_app.state.ctx
    taking, ctx.pipeline = ctx.pipeline, lagging
    refused = {"outcome": "pipeline_behind"}
    before = REGISTRY.get_sample_value("interarec_gateway_frames_total", refused) or 0
    session = f"behind-{uuid.uuid4().hex[:8]}"
    try:
        stats = browse(f"{servers.origin}/plain/{session}", seconds=4)
    finally:
        ctx.pipeline = taking
        lagging.stop()
    refusals = (REGISTRY.get_sample_value("interarec_gateway_frames_total", refused) or 0) - before
    assert stats["sent"] == 0 and stats["queued"] == 1, stats  # kept, not dropped, to send after the wait
    assert 1 <= refusals <= 2, refusals
