"""The replay's cache of reads (services/eval/replay.py) is keyed by the reading code: every module a read goes
through must be in the key, or a changed reader replays stale observations and its figures are the old reader's."""

from __future__ import annotations

import ast
from pathlib import Path

from services.core.reading import reader
from services.eval import replay

PACKAGE = Path(reader.__file__).parent


def _imports_within_package(name: str) -> set[str]:
    """The package's own modules `name` imports (`from . import x`, `from .x import y`)."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / name).read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {f"{node.module}.py"} if node.module else {f"{alias.name}.py" for alias in node.names}
    return {f for f in found if (PACKAGE / f).exists()}


def test_every_module_the_reader_imports_is_in_the_cache_key():
    seen, todo = set(), ["reader.py", "grounding.py"]  # a read: the frame reader, then grounding its lines
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports_within_package(name))
    assert {"ocr.py", "masthead.py", "prices.py", "profile.py"} <= seen
    assert not seen & replay._NOT_READING


def test_a_changed_reading_module_changes_the_key(tmp_path, monkeypatch):
    copy = tmp_path / "reading"
    copy.mkdir()
    for path in PACKAGE.glob("*.py"):
        (copy / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(reader, "__file__", str(copy / "reader.py"))
    before = replay._reader_key()
    (copy / "summary.py").write_text("# not part of a read\n")
    assert replay._reader_key() == before
    (copy / "masthead.py").write_text((copy / "masthead.py").read_text() + "\n# changed\n")
    assert replay._reader_key() != before
