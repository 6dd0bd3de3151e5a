"""The alert rules pass `promtool check rules` and their unit tests (`promtool test rules`), and a wrong
expectation really fails the unit tests."""

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


def test_every_alert_the_issue_asks_for_exists():
    import yaml

    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    assert alerts == {"InteraRecEndToEndLatencySLO", "InteraRecConsumerLagHigh", "InteraRecDeadLetters",
                      "InteraRecModelFallbacks", "InteraRecVllmQueue", "InteraRecServiceDown",
                      "InteraRecHttpServerErrors"}
    tested = RULE_TESTS.read_text()
    for alert in alerts:
        assert f"alertname: {alert}" in tested, f"{alert} has no promtool unit test"
