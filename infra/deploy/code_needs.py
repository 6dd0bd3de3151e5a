"""What a component's code needs from its pod and image, read from the code itself (not from a list kept by
hand): the first-party import closure of its entry module, and in it every call that loads the catalog and
every executable looked up with shutil.which.

Static on purpose: a lazily loaded catalog (the storefront's image query) or a lazily run executable (OCR)
would pass a start-up check and fail on the first request that needs it."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("services", "interarec", "infra")
_DOTTED = re.compile(r"(?:" + "|".join(FIRST_PARTY) + r")(?:\.\w+)+")


@dataclass
class Needs:
    modules: set[str] = field(default_factory=set)
    catalog_loaders: set[str] = field(default_factory=set)  # modules that call Catalog.load
    executables: dict[str, set[str]] = field(default_factory=dict)  # name -> modules that look it up


def module_file(module: str, roots: tuple[Path, ...] = (REPO_ROOT, REPO_ROOT / "proto")) -> Path | None:
    parts = module.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(module: str, path: Path, tree: ast.Module) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from pkg import module`
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
            found.add(node.value)  # a module named to an importer, e.g. serve_worker("x", "services.x.agents")
    out = set()
    for name in found:
        if name.split(".")[0] in FIRST_PARTY:
            # a module imports its packages' __init__ too
            parts = name.split(".")
            out |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return out


def _calls(tree: ast.Module) -> tuple[bool, set[str]]:
    loads_catalog, executables = False, set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if node.func.attr == "load" and isinstance(owner, ast.Name) and owner.id == "Catalog":
            loads_catalog = True
        if (node.func.attr == "which" and isinstance(owner, ast.Name) and owner.id == "shutil" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            executables.add(node.args[0].value)
    return loads_catalog, executables


@cache
def _facts(module: str) -> tuple[bool, frozenset[str], frozenset[str]] | None:
    """(loads the catalog, executables looked up, first-party imports) of one module; None if it is not a module.
    Cached: the checks ask for the same closures many times per run and the code does not change under them."""
    path = module_file(module)
    if path is None:
        return None  # a name imported from a module, not a module
    tree = _parse(path)
    loads, executables = _calls(tree)
    return loads, frozenset(executables), frozenset(_imports(module, path, tree))


def needs(entry_module: str) -> Needs:
    """The closure of `python -m entry_module` (its __main__ too, as -m runs it)."""
    result = Needs()
    todo = [entry_module, f"{entry_module}.__main__"]
    while todo:
        module = todo.pop()
        if module in result.modules:
            continue
        facts = _facts(module)
        if facts is None:
            continue
        loads, executables, imports = facts
        result.modules.add(module)
        if loads:
            result.catalog_loaders.add(module)
        for name in executables:
            result.executables.setdefault(name, set()).add(module)
        todo.extend(imports - result.modules)
    return result


def entry_module(argv: list[str]) -> str | None:
    """`python -m services.gateway` -> services.gateway."""
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1].startswith("python") and argv[1] == "-m":
        return argv[2]
    return None
