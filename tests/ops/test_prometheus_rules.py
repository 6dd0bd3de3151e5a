"""The alert rules pass `promtool check rules` and their unit tests (`promtool test rules`), whose input series
are generated from the services' recorded expositions (infra/prometheus/series.py); a wrong expectation, or a
rule selecting a label value the client library does not write, really fails them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "charts" / "interarec" / "files" / "prometheus" / "interarec-alerts.yaml"
RULE_TESTS = REPO_ROOT / "infra" / "prometheus" / "tests" / "alerts_test.yaml"


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: run `make setup` (installs Debian's prometheus package)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_rules_are_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_fail_on_a_wrong_expectation(tmp_path):
    broken = RULE_TESTS.read_text().replace("value: 600", "value: 1000", 1)
    assert broken != RULE_TESTS.read_text()
    copy = RULE_TESTS.parent / f".{tmp_path.name}_broken_test.yaml"  # beside the original: rule_files is relative
    copy.write_text(broken)
    try:
        result = promtool("test", "rules", str(copy))
    finally:
        copy.unlink()
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


ALERTS = {"InteraRecEndToEndLatencySLO", "InteraRecConsumerLagHigh", "InteraRecDeadLetters",
          "InteraRecModelFallbacks", "InteraRecVllmQueue", "InteraRecServiceDown", "InteraRecVllmDown",
          "InteraRecLlmCircuitOpen", "InteraRecGatewayFramesFailing", "InteraRecServiceAbsent",
          "InteraRecHttpServerErrors"}


def alert_rules() -> list[dict]:
    import yaml

    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_every_alert_the_issue_asks_for_exists():
    alerts = {r["alert"] for r in alert_rules()}
    assert alerts >= ALERTS
    tested = RULE_TESTS.read_text()
    for alert in alerts:
        assert f"alertname: {alert}" in tested, f"{alert} has no promtool unit test"


def test_the_rule_tests_are_generated_from_the_scenarios():
    from infra.prometheus import series

    assert RULE_TESTS.read_text() == series.render_tests(), "run `python -m infra.prometheus.series`"


def test_a_rule_on_a_label_value_the_client_does_not_write_fails(tmp_path):
    """The SLO rule once selected le="10"; prometheus_client writes le="10.0", so it could never fire. With
    generated input series the unit test catches that."""
    broken_rules = RULES.read_text().replace('le="10.0"', 'le="10"')
    assert broken_rules != RULES.read_text()
    rules_copy = RULES.parent / f".{tmp_path.name}_le_rules.yaml"
    tests_copy = RULE_TESTS.parent / f".{tmp_path.name}_le_test.yaml"
    rules_copy.write_text(broken_rules)
    tests_copy.write_text(RULE_TESTS.read_text().replace("interarec-alerts.yaml", rules_copy.name))
    try:
        result = promtool("test", "rules", str(tests_copy))
    finally:
        rules_copy.unlink()
        tests_copy.unlink()
    assert result.returncode != 0
    assert "InteraRecEndToEndLatencySLO" in result.stdout + result.stderr


def test_every_alert_links_a_runbook_section():
    import re

    runbooks = (REPO_ROOT / "docs" / "runbooks.md").read_text()
    anchors = {h.strip().lower() for h in re.findall(r"^## (.+)$", runbooks, re.M)}
    for rule in alert_rules():
        url = rule["annotations"].get("runbook_url", "")
        assert url.rsplit("#", 1)[0].endswith("/docs/runbooks.md"), rule["alert"]
        assert url.rsplit("#", 1)[1] == rule["alert"].lower() in anchors, rule["alert"]


def test_service_down_waits_longer_than_a_start_may_take():
    """A pod is not down while its startup probe still allows it to start (vLLM: model loading)."""
    from tests.ops.chart_support import PRODUCTION_VALUES, pod_specs, render

    def minutes(duration: str) -> float:
        return float(duration[:-1]) * {"s": 1 / 60, "m": 1, "h": 60}[duration[-1]]

    rules = {r["alert"]: r for r in alert_rules()}
    for name, spec in pod_specs(render(PRODUCTION_VALUES)).items():
        probe = spec["containers"][0]["startupProbe"]
        budget = probe["periodSeconds"] * probe["failureThreshold"] / 60
        alert = rules["InteraRecVllmDown" if name.endswith("-vllm") else "InteraRecServiceDown"]
        assert minutes(alert["for"]) > budget, (name, alert["for"], budget)


def test_every_component_has_an_absent_guard():
    import yaml

    from tests.ops.chart_support import CHART

    components = set(yaml.safe_load((CHART / "values.yaml").read_text())["components"]) - {"demo-shop"}
    guarded = {r["labels"]["service"] for r in alert_rules() if r["expr"].startswith("absent(")}
    assert guarded == components | {"vllm"}
    for rule in alert_rules():
        if rule["expr"].startswith("absent("):
            assert f'up{{service="{rule["labels"]["service"]}"}}' in rule["expr"]
