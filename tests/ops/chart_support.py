"""Helpers for the chart tests: run helm, split its output, validate objects offline against the Kubernetes
OpenAPI schemas (kubernetes-validate's bundled copies) and the CRDs copied into tests/ops/crds/."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "interarec"
PRODUCTION_VALUES = CHART / "values-production.yaml"
CRD_DIR = Path(__file__).resolve().parent / "crds"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion); schemas are strict (unknown fields fail).
KUBE_VERSION = "1.29.0"


def helm_binary() -> str:
    local = REPO_ROOT / "var" / "bin" / "helm"
    found = str(local) if local.exists() else shutil.which("helm")
    if not found:
        raise RuntimeError("helm not found: run `make helm` (builds it from the Go module proxy into var/bin)")
    return found


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


def render(*values_files: Path, sets: tuple[str, ...] = (), release: str = "shop", namespace: str = "shop",
           check: bool = True) -> list[dict] | subprocess.CompletedProcess:
    args = ["template", release, str(CHART), "--namespace", namespace, "--kube-version", KUBE_VERSION]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    result = helm(*args, check=check)
    if not check:
        return result
    return [doc for doc in yaml.load_all(result.stdout, Loader=UniqueKeyLoader) if doc]


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; the API server's decoder rejects them. So do we."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        duplicates = {k for k in keys if keys.count(k) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {sorted(duplicates)}",
                                                    node.start_mark)
        return super().construct_mapping(node, deep=deep)


@cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the openAPIV3Schema of that CRD version."""
    out = {}
    for path in CRD_DIR.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            out[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return out


def strict_schema(schema: dict) -> dict:
    """The API server prunes (or with strict field validation, rejects) fields a structural schema does not
    declare; JSON Schema ignores them. Close every object that lists properties and does not preserve
    unknown fields, so a typo fails here as it would in the cluster."""
    schema = copy.deepcopy(schema)

    def close(node):
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node
                    and not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node):
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    # apiVersion, kind and metadata are the API server's to check, whatever the CRD schema declares.
    schema.setdefault("properties", {}).update({"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                                "metadata": {"type": "object"}})
    return schema


def validate_object(obj: dict) -> None:
    """Raise with a clear message if obj is not valid for its kind."""
    import jsonschema
    import kubernetes_validate

    key = (obj["apiVersion"], obj["kind"])
    name = f"{obj['kind']}/{obj.get('metadata', {}).get('name')}"
    if key in crd_schemas():
        errors = sorted(jsonschema.Draft7Validator(strict_schema(crd_schemas()[key])).iter_errors(obj),
                        key=lambda e: list(e.absolute_path))
        if errors:
            raise AssertionError(f"{name}: " + "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                                                         for e in errors[:5]))
        return
    group = obj["apiVersion"].rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        raise AssertionError(f"{name}: no CRD in {CRD_DIR} for {obj['apiVersion']}")
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{name}: {'/'.join(map(str, exc.path))}: {exc.message}") from None


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] == "Deployment"}


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def dumps(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)
