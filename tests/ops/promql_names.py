"""Which metric names a PromQL expression reads, and which names an exposition really offers: enough of
PromQL for the dashboards' and alert rules' expressions (selectors, ranges, groupings, functions)."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan", "atan2"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENT = re.compile(r"(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names read by expr (function names, keywords, labels and variables are left out)."""
    text = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers, with their strings and $variables
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r'"[^"]*"|\'[^\']*\'', " ", text)
    text = GROUPING.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for m in IDENT.finditer(text):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics text can produce, including the suffixes of counters and histograms."""
    out = set()
    for family in text_string_to_metric_families(exposition):
        name = family.name
        out.add(name)
        if family.type == "counter":
            out |= {f"{name}_total", f"{name}_created"}
        elif family.type in ("histogram", "gaugehistogram"):
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        elif family.type == "summary":
            out |= {f"{name}_sum", f"{name}_count", f"{name}_created"}
        out |= {s.name for s in family.samples}
    return out


def dashboard_queries(board: dict) -> list[tuple[str, str]]:
    """(where, expr) for every panel target and query variable of a Grafana dashboard."""
    out = []
    for panel in board.get("panels", []):
        for target in panel.get("targets", []):
            out.append((f"{board['uid']} / {panel['title']} / {target['refId']}", target["expr"]))
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            out.append((f"{board['uid']} / variable {var['name']}", m.group(1) if m else query))
    return out
