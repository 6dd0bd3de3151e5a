"""The layering contracts (pyproject.toml [tool.importlinter], run by `make lint`) hold on this tree and
catch each kind of violation they exist for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT / 'proto'}"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_tree_keeps_every_layering_contract():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


RUNTIME = "runtime code imports no tests, infra or evaluation"


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("services/storefront_api/queries.py", "from services.optimizer import app", "no service imports another service"),
    ("services/core/business_rules.py", "from services.storefront_api import models",
     "common and core import no service"),
    ("services/common/config.py", "from services.core import business_rules", "core imports common, never the reverse"),
    ("services/gateway/frames.py", "from infra.kafka import broker", RUNTIME),
    ("services/summarizer/app.py", "from tests.unit import catalog_factory", RUNTIME),
    ("services/capture/frames.py", "from services.eval import metrics", RUNTIME),
])
def test_a_violation_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "services", tmp_path / "services", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / module).open("a") as f:
        f.write(f"\n{line}  # noqa\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0
    broken = [line for line in run.stdout.splitlines() if " BROKEN" in line]
    assert any(b.startswith(contract) for b in broken), run.stdout
