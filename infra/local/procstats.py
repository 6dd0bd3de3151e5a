"""CPU time and resident memory of a process and everything it started, read from Linux's /proc (no extra
dependency). The load test uses it for CPU per stage and the soak for RSS per process over time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system seconds since start, the process tree together
    rss_bytes: int  # resident memory now, the process tree together


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of one process, None once it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields after its last ')' are positional.
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _rss(pid: int) -> int:
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def descendants(root: int) -> list[int]:
    """root and every process below it (children of threads included: /proc lists processes, not threads)."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents.setdefault(st[0], []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def usage(root: int) -> Usage:
    """CPU seconds and RSS of root's process tree (zero for a process that has exited)."""
    cpu, rss = 0.0, 0
    for pid in descendants(root):
        if (st := _stat(pid)) is not None:
            cpu += st[1]
            rss += _rss(pid)
    return Usage(cpu, rss)
