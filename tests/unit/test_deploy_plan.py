"""The deploy rehearsal's reading of the Dockerfile and the rendered objects (infra/deploy/plan.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.deploy.plan import PathMap, PlanError, local_services, parse_dockerfile, plan_release

DOCKERFILE = """
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE} AS build
RUN pip install .
FROM ${PYTHON_IMAGE} AS base
ENV PATH=/opt/venv/bin:$PATH \\
    INTERAREC_VAR_DIR=/var/lib/x/state
RUN apt-get update \\
 && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \\
 && rm -rf /var/lib/apt/lists/*
WORKDIR /var/lib/x
FROM base AS ocr
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr=5.3.0-2
COPY --from=build /opt/venv /opt/venv
FROM ocr AS app
ENV INTERAREC_APP_PORT=8600
CMD ["python", "-m", "services.app"]
"""


def deployment(env: list[dict]) -> dict:
    return {"kind": "Deployment", "metadata": {"name": "shop-app"}, "spec": {"template": {
        "metadata": {"labels": {"app.kubernetes.io/name": "app"}},
        "spec": {"volumes": [{"name": "state", "emptyDir": {}}], "containers": [{
            "name": "app", "image": "reg/x-app:1", "env": env, "ports": [{"name": "http", "containerPort": 8601}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
            "volumeMounts": [{"name": "state", "mountPath": "/var/lib/x/state"}]}]}}}}


def test_a_target_inherits_env_packages_workdir_and_venv_along_its_from_chain():
    app = parse_dockerfile(DOCKERFILE)["app"]
    assert app.env["PATH"].startswith("/opt/venv/bin:/usr/local/sbin:")
    assert app.env["INTERAREC_VAR_DIR"] == "/var/lib/x/state" and app.env["INTERAREC_APP_PORT"] == "8600"
    assert app.apt_packages == {"fonts-dejavu-core", "tesseract-ocr"}
    assert app.workdir == "/var/lib/x" and app.venv_from == "/opt/venv"
    assert app.cmd == ["python", "-m", "services.app"]


def test_the_container_env_wins_and_refs_resolve():
    plans = plan_release([deployment([
        {"name": "INTERAREC_APP_PORT", "value": "8601"},
        {"name": "INTERAREC_KEY", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "k"}}},
        {"name": "INTERAREC_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "INTERAREC_URL", "value": "http://$(INTERAREC_HOST):$(INTERAREC_APP_PORT)"},
    ])], parse_dockerfile(DOCKERFILE), "reg/x", {("keys", "k"): "s3cret"})
    (p,) = plans
    assert p.target == "app" and p.argv == ["python", "-m", "services.app"]
    assert p.env["INTERAREC_APP_PORT"] == "8601" and p.env["INTERAREC_KEY"] == "s3cret"
    assert p.env["INTERAREC_URL"] == "http://127.0.0.1:8601"
    assert [(q.kind, q.path, q.port) for q in p.probes] == [("readiness", "/readyz", 8601)]


def test_a_missing_secret_or_a_foreign_image_is_a_clear_error():
    secret_env = [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "k"}}}]
    with pytest.raises(PlanError, match="needs Secret keys key k"):
        plan_release([deployment(secret_env)], parse_dockerfile(DOCKERFILE), "reg/x", {})
    with pytest.raises(PlanError, match="not built from this repository"):
        plan_release([deployment([])], parse_dockerfile(DOCKERFILE), "other/repo", {})


def test_paths_map_under_the_local_root_longest_prefix_first(tmp_path):
    paths = PathMap({"/var/lib/x": tmp_path / "work", "/var/lib/x/state": tmp_path / "state",
                     "/opt/venv": tmp_path / "venv"})
    assert paths.local("/var/lib/x/state/faust") == tmp_path / "state" / "faust"
    assert paths.value("/opt/venv/bin:/usr/bin") == f"{tmp_path / 'venv' / 'bin'}:/usr/bin"
    assert paths.value("localhost:9092") == "localhost:9092" and paths.value("0.0.0.0") == "0.0.0.0"
    assert paths.local("/etc/passwd") is None
    assert isinstance(paths.local("/var/lib/x"), Path)


def test_service_addresses_resolve_to_the_selected_container():
    objects = [deployment([]), {"kind": "Service", "metadata": {"name": "shop-app"}, "spec": {
        "selector": {"app.kubernetes.io/name": "app"}, "ports": [{"port": 80, "targetPort": "http"}]}}]
    plans = plan_release(objects, parse_dockerfile(DOCKERFILE), "reg/x", {})
    assert local_services(objects, plans) == {"shop-app:80": "127.0.0.1:8601"}
