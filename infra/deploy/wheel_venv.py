"""A virtualenv installed from the wheel the Dockerfile installs: the build stage's COPY lines say which files
go into it, `pip wheel` builds it from a copy of exactly those files, and a fresh venv installs it as the
Dockerfile does (binary wheels only; uv installs them, for speed). Cached under var/deploy/: the dependencies
per pyproject.toml, the package per hash of those files, so a rerun on unchanged sources costs nothing."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from uv import find_uv_bin

from infra.deploy.plan import logical_lines

REPO_ROOT = Path(__file__).resolve().parents[2]
IGNORED = ("__pycache__", ".pyc")


def build_inputs(dockerfile_text: str, stage: str = "build") -> list[str]:
    """The repository paths the build stage COPYs (not the COPY --from of later stages)."""
    inputs, current = [], None
    for line in logical_lines(dockerfile_text):
        instr, _, rest = line.partition(" ")
        if instr.upper() == "FROM":
            current = rest.split()[-1]
        elif instr.upper() == "COPY" and current == stage and not rest.startswith("--"):
            inputs += rest.split()[:-1]
    return inputs


def _files(root: Path, inputs: list[str]) -> list[Path]:
    out = []
    for name in inputs:
        path = root / name
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        out += [p for p in found if not any(part.endswith(IGNORED) for part in p.parts)]
    return out


def source_key(root: Path, inputs: list[str]) -> str:
    digest = hashlib.sha256()
    for path in _files(root, inputs):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def wheel_venv(var_dir: Path = REPO_ROOT / "var", root: Path = REPO_ROOT, progress=print) -> Path:
    """The venv's directory (its bin/python runs the installed package, never the checkout). As Docker's
    layer cache would: the dependencies are installed once per pyproject.toml, the package again whenever a
    source file changes."""
    inputs = build_inputs((root / "Dockerfile").read_text())
    key = source_key(root, inputs)
    cache = var_dir / "deploy"
    venv = cache / f"venv-{source_key(root, ['pyproject.toml'])}"
    marker = venv / ".installed-source"
    if marker.exists() and marker.read_text().strip() == key:
        return venv
    fresh = not marker.exists()
    progress(f"deploy rehearsal: building the wheel from {', '.join(inputs)} and installing it into {venv}"
             + (" (with its dependencies: under a minute)" if fresh else ""))
    for old in cache.glob("venv-*"):  # one cached venv at a time
        if old != venv:
            shutil.rmtree(old, ignore_errors=True)
    src, dist = cache / "src", cache / "dist"
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(dist, ignore_errors=True)
    for path in _files(root, inputs):
        target = src / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1200)  # noqa: E731
    try:
        run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
            str(src))
        wheels = list(dist.glob("interarec-*.whl"))
        assert len(wheels) == 1, wheels
        # uv, not pip, installs: the same wheels from PyPI (binary only, as the Dockerfile's pip), resolved and
        # unpacked in parallel, which takes the first build from over a minute to seconds. It compiles no
        # bytecode unless asked: the image deletes every __pycache__ after installing, so it ships none either.
        uv = [find_uv_bin(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
        if fresh:
            shutil.rmtree(venv, ignore_errors=True)
            # --seed: pip and setuptools in it, as `python -m venv` puts them in the image's venv
            run(find_uv_bin(), "venv", "--quiet", "--seed", "--python", sys.executable, str(venv))
            run(*uv, "--only-binary", ":all:", str(wheels[0]))
        else:
            # --no-cache: the package's version never changes, so a cached build of an older source must not win
            run(*uv, "--no-deps", "--reinstall", "--no-cache", str(wheels[0]))
    except subprocess.CalledProcessError as exc:
        marker.unlink(missing_ok=True)
        raise RuntimeError(f"{' '.join(exc.cmd)} failed:\n{exc.stderr[-3000:]}") from None
    marker.write_text(key + "\n")
    return venv


def wheel_files(venv: Path) -> list[str]:
    """Paths inside the installed package, relative to site-packages (for package-data checks)."""
    record = next(venv.glob("lib/python*/site-packages/interarec-*.dist-info/RECORD"))
    return [line.split(",")[0] for line in record.read_text().splitlines() if line]
