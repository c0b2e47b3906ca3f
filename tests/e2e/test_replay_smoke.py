"""The outage replay runs end to end (shortened) and keeps kefu's invariants."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_short_replay_reports_every_field_and_loses_nothing(tmp_path: Path) -> None:
    """A two-second replay without defects reports its figures with no loss."""
    out = tmp_path / "replay.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kefu",
            "replay",
            "outage",
            "--defects",
            "none",
            "--duration-scale",
            "0.03",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    assert set(run) >= {
        "defects",
        "contacts_attempted",
        "connect_rate",
        "contact_open_ms",
        "first_response_s",
        "max_agent_load",
        "agent_capacity",
        "shed",
        "timeouts",
        "lost_messages",
    }
    assert run["defects"] == []
    assert run["contacts_attempted"] > 0
    assert run["lost_messages"] == 0
    assert run["max_agent_load"] <= run["agent_capacity"]
    assert report["calibration"]["sustained_contacts_per_s"] > 0


def test_unknown_defect_is_a_usage_error() -> None:
    """A misspelt defect name is refused before anything starts."""
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "replay", "outage", "--defects", "slow-disk"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown defects: slow-disk" in done.stderr
