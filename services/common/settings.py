"""Settings declared once: a frozen dataclass per service whose fields name their INTERAREC_* variable,
default, bounds and meaning. `from_env(cls)` reads and validates every field (a ConfigError names the
variable and what it accepts); `markdown_rows(cls)` documents them, and the README's worker settings table
is generated from these declarations (`python -m infra.settings_doc --write`), so the two cannot disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from services.common import config

T = TypeVar("T")
BEGIN, END = "<!-- worker-settings:begin -->", "<!-- worker-settings:end -->"


@dataclass(frozen=True)
class Env:
    name: str
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    default_doc: str | None = None  # for a default computed at start-up (e.g. a path under the var dir)
    parse: Callable[[str], Any] | None = None  # turns the raw text ('' when unset) into the value


def setting(name: str, default: Any, doc: str, *, minimum: float | None = None, maximum: float | None = None,
            choices: tuple[str, ...] | None = None, default_doc: str | None = None,
            parse: Callable[[str], Any] | None = None) -> Any:
    """A dataclass field read from environment variable `name`; `default` may be a zero-argument callable.
    With `parse`, the value is parse(raw text), '' when unset (it validates and raises config.ConfigError)."""
    meta = {"env": Env(name, doc, minimum, maximum, choices, default_doc, parse)}
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def computed(factory: Callable[[], Any], *reads: Env) -> Any:
    """A field built by `factory` from several variables at once (e.g. API keys from a list and a file);
    `reads` documents each variable it reads. Also the default when the dataclass is built directly."""
    return field(default_factory=factory, metadata={"computed": reads})


def nested(cls: type) -> Any:
    """A field holding another settings dataclass (e.g. the settings every worker shares)."""
    return field(default_factory=lambda: from_env(cls), metadata={"nested": cls})


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]


def _read(env: Env, default: Any) -> Any:
    if env.parse is not None:
        return env.parse(config.env_str(env.name, ""))
    if env.choices is not None:
        return config.env_choice(env.name, default, env.choices)
    if isinstance(default, bool):
        return config.env_choice(env.name, "1" if default else "0", ("0", "1")) == "1"
    if isinstance(default, int):
        return config.env_int(env.name, default, minimum=env.minimum, maximum=env.maximum)  # type: ignore[arg-type]
    if isinstance(default, float):
        return config.env_float(env.name, default, minimum=env.minimum, maximum=env.maximum)
    if isinstance(default, Path):
        return Path(config.env_str(env.name, str(default)))
    return config.env_str(env.name, default)


def from_env(cls: type[T]) -> T:
    """Every field of `cls` from its variable (or its default), validated; raises config.ConfigError."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if "nested" in f.metadata:
            values[f.name] = from_env(f.metadata["nested"])
        elif "env" in f.metadata:
            values[f.name] = _read(f.metadata["env"], _default(f))
        elif "computed" in f.metadata:
            values[f.name] = _default(f)
    return cls(**values)


def declared(cls: type) -> Iterator[tuple[Env, dataclasses.Field]]:
    """Every variable `cls` reads, nested settings first-declared once."""
    for f in fields(cls):
        if "nested" in f.metadata:
            yield from declared(f.metadata["nested"])
        elif "env" in f.metadata:
            yield f.metadata["env"], f
        elif "computed" in f.metadata:
            for env in f.metadata["computed"]:
                yield env, f


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{int(value)}`"
    if isinstance(value, str):
        return f"`{value}`" if value else "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def markdown_rows(classes: list[type]) -> list[str]:
    rows, seen = [], set()
    for cls in classes:
        for env, f in declared(cls):
            if env.name in seen:
                continue
            seen.add(env.name)
            default = env.default_doc or _show(_default_without_env(f))
            accepted = (f" ({' / '.join(f'`{c}`' for c in env.choices)})" if env.choices
                        else f" ({_show(env.minimum)}–{_show(env.maximum)})" if env.minimum is not None
                        and env.maximum is not None else "")
            rows.append(f"| `{env.name}` | {default} | {env.doc}{accepted} |")
    return rows


def _default_without_env(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else "(computed)"


def table(classes: list[type]) -> str:
    head = ["| variable | default | meaning |", "|---|---|---|"]
    return "\n".join([BEGIN, *head, *markdown_rows(classes), END])


def replace_block(text: str, block: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block + text[end:]
