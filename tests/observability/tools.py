"""Finding the Prometheus tools, and the paths of kefu's rule and config files."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RECORDING_RULES = PROMETHEUS_DIR / "recording.yml"
ALERT_RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"

INSTALL_HINT = "apt-get install -y prometheus prometheus-alertmanager"


def tool(*names: str) -> str:
    """The path of the first of ``names`` on PATH.

    Without it the test is skipped, except under ``CI=true``, where it fails:
    CI must run these tests, not skip them.
    """
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    reason = f"{' or '.join(names)} is not installed ({INSTALL_HINT})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def load_yaml(path: Path) -> Any:
    """A YAML file's content."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule in alerts.yml."""
    groups = load_yaml(ALERT_RULES)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def heading_anchors(markdown: str) -> set[str]:
    """The anchors a Markdown renderer gives the document's headings."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors
