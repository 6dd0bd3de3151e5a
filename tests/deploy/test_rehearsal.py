"""The deploy rehearsal: the chart rendered with production values (plus tests/deploy/values-rehearsal.yaml),
every Deployment's container started with exactly its rendered command, env, Secrets and volumes from a venv
installed from the Dockerfile's wheel, against the local Kafka; each must pass its own probes, and a session
of real screenshots must come out as a recommendation."""

from __future__ import annotations

import asyncio
import json
import secrets as random_secrets
import time
from pathlib import Path

import httpx
import pytest

from infra.deploy import rehearsal
from infra.deploy.code_needs import entry_module, needs
from infra.deploy.plan import local_services, parse_dockerfile, plan_release
from infra.deploy.wheel_venv import wheel_files, wheel_venv
from services.capture.frames import Frame, FrameUploader
from services.common.tenants import hash_key
from tests.ops.chart_support import PRODUCTION_VALUES, REPO_ROOT, render

pytestmark = pytest.mark.integration

OVERLAY = Path(__file__).with_name("values-rehearsal.yaml")
SCREENS = REPO_ROOT / "tests" / "fixtures" / "screens"
API_KEY = "rehearsal-" + random_secrets.token_hex(8)


def production_values() -> dict:
    import yaml

    return yaml.safe_load(PRODUCTION_VALUES.read_text())


def enabled_components() -> list[str]:
    """Enabled by the production values or the overlay."""
    import yaml

    overlay = yaml.safe_load(OVERLAY.read_text())["components"]
    return [n for n, c in production_values()["components"].items()
            if overlay.get(n, {}).get("enabled", c.get("enabled"))]


@pytest.fixture(scope="module")
def venv() -> Path:
    return wheel_venv(progress=print)


@pytest.fixture(scope="module")
def release(kafka_secured, kafka_broker_module, catalog_path, venv, tmp_path_factory):
    values = production_values()
    components = enabled_components()
    ports = kafka_broker_module.free_ports(len(components))
    # Production values turn on Kafka TLS + SCRAM: the broker has a SASL_SSL listener, the chart's KafkaUsers
    # as SCRAM users with their ACLs (tests/secured_kafka.py); hostname verification stays on (127.0.0.1 SAN).
    sets = [f"kafka.bootstrapServers={kafka_secured.bootstrap}",
            *(f"components.{n}.port={p}" for n, p in zip(components, ports, strict=True))]
    objects = render(PRODUCTION_VALUES, OVERLAY, sets=tuple(sets))
    # The Secrets production values name, as an operator would create them.
    secrets = {("interarec-api-keys", "api-keys"): f"rehearsal:{hash_key(API_KEY)}",
               ("interarec-storefront-token", "token-secret"): random_secrets.token_urlsafe(32),
               ("interarec-shop-key", "api-key"): API_KEY,  # the demo shop's own tenant key
               # Strimzi's cluster CA Secret and the User Operator's password Secret per KafkaUser
               ("interarec-cluster-ca-cert", "ca.crt"): kafka_secured.tls.ca_file.read_text(),
               **{(user, "password"): password for user, password in kafka_secured.passwords.items()}}
    images = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
    plans = plan_release(objects, images, values["image"]["repository"], secrets)
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    claims = {values["catalog"]["existingClaim"]: catalog_path.parent}
    services = local_services(objects, plans)
    base = tmp_path_factory.mktemp("rehearsal")
    running = []
    try:
        for plan in plans:
            running.append(rehearsal.start(plan, base / plan.deployment, venv, claims, secrets, configmaps,
                                           base / "logs", services))
        took = rehearsal.wait_ready(running, timeout_s=240)
        print("ready after (s):", {k: round(v, 1) for k, v in took.items()})
        yield {r.plan.component: r for r in running}
    finally:
        rehearsal.stop(running)


def test_every_deployment_of_the_release_runs(release):
    assert set(release) == set(enabled_components())
    for r in release.values():
        assert r.process.poll() is None, f"{r.plan.deployment} exited:\n{r.log_tail()}"
        # Started from the wheel's venv, not the checkout: the module comes from site-packages.
        assert str(r.paths.local("/opt/venv")) in r.process.args[0]


def test_a_session_of_real_screenshots_gets_a_recommendation(release):
    gateway, storefront = release["gateway"], release["storefront-api"]
    frames = [f for f in json.loads((SCREENS / "manifest.json").read_text())["frames"]
              if f["layout"] == "classic"][:10]
    session = "rehearsal-" + random_secrets.token_hex(4)

    async def send() -> int:
        async with httpx.AsyncClient(timeout=10) as client:
            uploader = FrameUploader(client, gateway.url(), API_KEY, session)
            for seq, f in enumerate(frames, 1):
                await uploader.post(Frame(seq, int(time.time() * 1000), f["url"], f["file"],
                                          (SCREENS / f["file"]).read_bytes()))
                await asyncio.sleep(0.5)
            return len(uploader.accepted)

    assert asyncio.run(send()) == len(frames)
    deadline = time.monotonic() + 120
    body = None
    while time.monotonic() < deadline:
        resp = httpx.get(storefront.url(f"/v1/sessions/{session}/recommendations"),
                         headers={"X-API-Key": API_KEY}, timeout=5)
        assert resp.status_code in (200, 404), resp.text
        if resp.status_code == 200:
            body = resp.json()
            break
        time.sleep(1)
    assert body, "no recommendation in 120 s; logs:\n" + "\n\n".join(
        f"{n}:\n{r.log_tail(15)}" for n, r in release.items())
    assert body["items"], body


def test_the_demo_shop_serves_pages_with_the_storefronts_picks(release):
    """Product and search pages (they import the shared _picks.html partial), and the similar-products panel the
    shop fetches from the storefront-api Service with its own key."""
    product = next(f["product_id"] for f in json.loads((SCREENS / "manifest.json").read_text())["frames"]
                   if f["product_id"])
    shop = release["demo-shop"]
    page = httpx.get(shop.url(f"/p/{product}"), timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert 'id="similar-products"' in page.text, shop.log_tail()
    assert httpx.get(shop.url("/search?q=lamp"), timeout=10).status_code == 200


def test_the_wheel_holds_every_data_file_of_the_package(venv):
    """Anything tracked under services/ or proto/ that is not Python is read by the code at run time
    (templates, static files, profiles, personas): an installed package without it fails (demo shop 500s,
    `interarec eval` without personas)."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "services", "proto"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    data = {p.removeprefix("proto/") for p in tracked if not p.endswith((".py", ".pyi", ".proto"))}
    missing = sorted(data - set(wheel_files(venv)))
    assert not missing, f"missing from the wheel: {missing}"


def test_the_rehearsal_venv_does_not_see_the_checkout(venv):
    import subprocess

    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import services; print(services.__file__)"],
                         cwd="/", capture_output=True, text=True, check=True).stdout
    assert "site-packages" in out and str(REPO_ROOT / "services") not in out


def test_entry_modules_are_what_the_images_run():
    """The code-needs checks (tests/ops) read the modules the Dockerfile's CMDs run; if an image ran something
    else, they would check the wrong code."""
    images = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
    for target in ("gateway", "storefront-api", "summarizer", "decomposer", "optimizer", "demo-shop"):
        module = entry_module(images[target].cmd)
        assert module and needs(module).modules, target


def exposition_shape(text: str) -> dict[str, tuple]:
    """Per family: type, label names (None when no samples show them) and histogram bounds (le values)."""
    from prometheus_client.parser import text_string_to_metric_families

    shape = {}
    for f in text_string_to_metric_families(text):
        labels = {k for s in f.samples if not s.name.endswith("_created") for k in s.labels if k != "le"}
        bounds = sorted({s.labels["le"] for s in f.samples if "le" in s.labels}) or None
        shape[f.name] = (f.type, tuple(sorted(labels)) if f.samples else None, bounds)
    return shape


def test_the_recorded_expositions_are_what_the_services_export(release):
    """infra/prometheus/tests/exposition/*.prom (the alert tests' source of series) match a live scrape of
    the processes the chart starts. INTERAREC_RECORD_EXPOSITION=1 records them again."""
    import os

    from infra.prometheus.series import EXPOSITION

    record = os.environ.get("INTERAREC_RECORD_EXPOSITION") == "1"
    for name, r in sorted(release.items()):
        live = httpx.get(r.url("/metrics"), timeout=5).text
        path = EXPOSITION / f"{name}.prom"
        if record:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(live)
            continue
        assert path.exists(), f"no recorded exposition for {name}: run with INTERAREC_RECORD_EXPOSITION=1"
        recorded, now = exposition_shape(path.read_text()), exposition_shape(live)
        deadline = time.monotonic() + 30
        while set(recorded) - set(now) and time.monotonic() < deadline:  # e.g. the lag gauge's first export
            time.sleep(2)
            now = exposition_shape(httpx.get(r.url("/metrics"), timeout=5).text)
        assert sorted(recorded) == sorted(now), f"{name}: families differ; INTERAREC_RECORD_EXPOSITION=1 rerecords"
        for family, (kind, labels, bounds) in recorded.items():
            live_kind, live_labels, live_bounds = now[family]
            assert kind == live_kind, (name, family)
            if labels is not None and live_labels is not None:
                assert labels == live_labels, (name, family)
            if bounds and live_bounds:
                assert bounds == live_bounds, (name, family)
