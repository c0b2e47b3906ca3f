"""kefu's Prometheus rules and Alertmanager configuration, checked by their tools."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.observability.tools import (
    ALERT_RULES,
    ALERTMANAGER_CONFIG,
    OPERATIONS_DOC,
    PROMETHEUS_CONFIG,
    PROMETHEUS_DIR,
    RECORDING_RULES,
    RULE_TESTS,
    alert_rules,
    heading_anchors,
    load_yaml,
    tool,
)

TOOL_TIMEOUT_S = 60.0


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        cwd=PROMETHEUS_DIR,
        check=False,
    )


def test_promtool_accepts_the_rules() -> None:
    """promtool check rules accepts the recording and alerting rules."""
    promtool = tool("promtool")
    done = _run(promtool, "check", "rules", str(RECORDING_RULES), str(ALERT_RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass() -> None:
    """Every promtool unit test of the rules passes."""
    promtool = tool("promtool")
    assert RULE_TESTS, "no rule tests in deploy/prometheus/tests"
    done = _run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_example_config() -> None:
    """promtool check config accepts the example Prometheus configuration."""
    promtool = tool("promtool")
    done = _run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_amtool_accepts_the_alertmanager_config() -> None:
    """amtool check-config accepts the Alertmanager configuration."""
    amtool = tool("amtool")
    done = _run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr


def test_pages_route_to_pagerduty_and_warnings_elsewhere() -> None:
    """Alertmanager routes severity=page to PagerDuty and warnings to the webhook."""
    amtool = tool("amtool")
    expected = {"page": "kefu-pagerduty", "warning": "kefu-warnings"}
    for severity, receiver in expected.items():
        done = _run(
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            "alertname=KefuTest",
            f"severity={severity}",
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == receiver, (severity, done.stdout)


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    """Each alert has a promtool case where it fires and one where it does not."""
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                name = check["alertname"]
                (fires if check.get("exp_alerts") else quiet).add(name)
    names = {rule["alert"] for rule in alert_rules()}
    assert names - fires == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def test_every_alert_is_documented_and_routed_by_severity() -> None:
    """Each alert has a severity, a summary, a description and a runbook anchor."""
    anchors = heading_anchors(OPERATIONS_DOC.read_text(encoding="utf-8"))
    for rule in alert_rules():
        name = rule["alert"]
        annotations: dict[str, Any] = rule["annotations"]
        assert rule["labels"]["severity"] in {"page", "warning"}, name
        assert annotations["summary"] and annotations["description"], name
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/operations.md", name
        assert anchor == name.lower() and anchor in anchors, name
