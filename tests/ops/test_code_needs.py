"""What each component's code needs, read from the code (infra/deploy/code_needs.py), is what the chart and the
Dockerfile give it: the catalog mounted where INTERAREC_CATALOG_PATH points if its code loads the catalog, and
every executable its code looks up installed in its image."""

from __future__ import annotations

import posixpath
import shutil
import subprocess

import pytest

from infra.deploy.code_needs import entry_module, needs
from infra.deploy.plan import parse_dockerfile, plan_release
from tests.ops.chart_support import CHART, PRODUCTION_VALUES, REPO_ROOT, render


class AnySecret(dict):
    """Every Secret the chart names exists (its content does not matter here)."""

    def __contains__(self, key) -> bool:
        return True

    def __getitem__(self, key) -> str:
        return "x" * 40


def plans(*values_files, sets=()):
    import yaml

    repository = yaml.safe_load((CHART / "values.yaml").read_text())["image"]["repository"]
    for f in values_files:
        repository = (yaml.safe_load(f.read_text()).get("image") or {}).get("repository", repository)
    images = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
    return plan_release(render(*values_files, sets=sets + ("vllm.enabled=false",)), images, repository, AnySecret())


RENDERS = {
    "default": ((), ("components.demo-shop.enabled=true",)),
    "production": ((PRODUCTION_VALUES,), ("components.demo-shop.enabled=true",)),
}


def catalog_problems(container_plans) -> list[str]:
    problems = []
    for p in container_plans:
        module = entry_module(p.argv)
        if module is None or not needs(module).catalog_loaders:
            continue
        catalog_dir = posixpath.dirname(p.env["INTERAREC_CATALOG_PATH"])
        if not any(catalog_dir == m.path or catalog_dir.startswith(m.path + "/") for m in p.mounts):
            problems.append(f"{p.deployment}: {sorted(needs(module).catalog_loaders)} load the catalog from "
                            f"{catalog_dir}, which is not mounted")
    return problems


@pytest.mark.parametrize("name", RENDERS)
def test_every_component_whose_code_loads_the_catalog_has_it_mounted(name):
    files, sets = RENDERS[name]
    container_plans = plans(*files, sets=sets)
    assert {p.component for p in container_plans} >= {"storefront-api", "summarizer", "demo-shop"}
    assert catalog_problems(container_plans) == []


def test_the_catalog_check_catches_a_component_without_the_catalog():
    container_plans = plans(PRODUCTION_VALUES, sets=("components.storefront-api.catalog=false",))
    assert [p.split(":")[0] for p in catalog_problems(container_plans)] == ["shop-interarec-storefront-api"]


def debian_package(executable: str) -> str:
    path = shutil.which(executable)
    assert path, f"{executable} is not installed here (make setup)"
    out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    if out.returncode != 0:  # /usr/bin may be a symlink into /bin on merged-/usr systems
        out = subprocess.run(["dpkg", "-S", "/bin/" + executable], capture_output=True, text=True, check=True)
    return out.stdout.split(":")[0]


def executable_problems(images) -> list[str]:
    problems = []
    for target, image in images.items():
        module = entry_module(image.cmd)
        if module is None:
            continue
        for executable, users in needs(module).executables.items():
            package = debian_package(executable)
            if package not in image.apt_packages:
                problems.append(f"image {target}: {sorted(users)} run {executable}, but the image does not "
                                f"install {package}")
    return problems


def test_every_executable_a_component_runs_is_in_its_image():
    images = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
    assert "tesseract-ocr" in images["summarizer"].apt_packages  # the parser follows FROM chains
    assert executable_problems(images) == []


def test_the_executable_check_catches_an_image_without_tesseract():
    images = parse_dockerfile((REPO_ROOT / "Dockerfile").read_text())
    images["storefront-api"].apt_packages.clear()
    assert [p.split(":")[0] for p in executable_problems(images)] == ["image storefront-api"]
