"""``kefu bench`` runs end to end at tiny sizes and reports every field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _bench(tmp_path: Path, *args: str) -> tuple[str, dict[str, object]]:
    """Run ``kefu bench`` with short windows; its table and its JSON report."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kefu",
            "bench",
            *args,
            "--seconds",
            "0.3",
            "--connections",
            "200",
            "--routing-agents",
            "200,1000",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(out.read_text())
    return done.stdout, report


def test_all_reports_every_benchmark_and_field(tmp_path: Path) -> None:
    """``bench all`` prints one table and writes each benchmark's fields."""
    table, report = _bench(tmp_path, "all")
    assert set(report) >= {"contacts", "messages", "connections", "routing"}
    contacts = report["contacts"]
    assert isinstance(contacts, dict)
    assert set(contacts) >= {"kefu_rps", "limit_rps", "ratio", "p99_ms_at_70pct"}
    assert contacts["kefu_rps"] > 0 and contacts["limit_rps"] > 0
    messages = report["messages"]
    assert isinstance(messages, dict)
    assert set(messages) >= {"kefu_per_s", "limit_per_s", "ratio", "delivery_p99_ms"}
    assert messages["kefu_per_s"] > 0 and messages["limit_per_s"] > 0
    connections = report["connections"]
    assert isinstance(connections, dict)
    assert connections["count"] == 200
    assert "bytes_per_connection" in connections
    routing = report["routing"]
    assert isinstance(routing, dict)
    assert set(routing) >= {"agents", "kefu_per_s", "scan_per_s", "ratio"}
    assert routing["agents"] == 200
    assert [row["agents"] for row in routing["by_agents"]] == [200, 1000]
    for name in ("contacts", "messages", "connections", "routing"):
        assert f"| {name}" in table


@pytest.mark.parametrize("which", ["routing"])
def test_one_benchmark_reports_only_itself(tmp_path: Path, which: str) -> None:
    """Naming one benchmark runs that one alone."""
    _, report = _bench(tmp_path, which)
    assert set(report) == {"seconds", which}


def test_unknown_benchmark_is_a_usage_error() -> None:
    """A misspelt benchmark name is refused before anything starts."""
    done = subprocess.run(
        [sys.executable, "-m", "kefu", "bench", "sessions"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Invalid value" in done.stderr
