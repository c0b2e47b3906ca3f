"""Run the benchmarks one after the other and put their figures in one table."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kefu.simulator.bench import connections, contacts, messages, routing

logger = logging.getLogger(__name__)

NAMES = ("contacts", "messages", "connections", "routing")

#: kefu's performance goals, as (figure, bound) pairs the table checks.
GOAL_CONTACTS_RATIO = 0.40
GOAL_CONTACTS_P99_MS = 50.0
GOAL_MESSAGES_RATIO = 0.50
GOAL_MESSAGES_P99_MS = 20.0
GOAL_BYTES_PER_CONNECTION = 20_000
GOAL_ROUTING_PER_S = 100_000


@dataclass(frozen=True, slots=True)
class Options:
    """What to run and how long; the defaults are the documented run."""

    names: tuple[str, ...] = NAMES
    #: Seconds of each fixed-rate step (and of each routing measurement).
    seconds: float = 5.0
    connections: int = 10_000
    routing_agents: tuple[int, ...] = (1_000, 10_000, 100_000)
    #: The agent count whose routing figures head the report.
    routing_main: int = 10_000


async def run(options: Options) -> dict[str, Any]:
    """Each benchmark asked for, in order, in a scratch directory of its own."""
    report: dict[str, Any] = {"seconds": options.seconds}
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as scratch:
        workdir = Path(scratch)
        for name in options.names:
            logger.info("bench %s: starting", name)
            report[name] = await _one(name, options, workdir)
    return report


async def _one(name: str, options: Options, workdir: Path) -> dict[str, Any]:
    if name == "contacts":
        return await contacts.run(options.seconds, workdir)
    if name == "messages":
        return await messages.run(options.seconds, workdir)
    if name == "connections":
        return await connections.run(options.connections, workdir)
    if name == "routing":
        return routing.run(
            list(options.routing_agents), options.seconds, options.routing_main
        )
    raise ValueError(f"unknown benchmark: {name}")


def table(report: dict[str, Any]) -> str:
    """The figures as a Markdown table, each against its goal."""
    lines = [
        "| benchmark | kefu | limit | kefu / limit | latency | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in NAMES:
        if name in report:
            lines += _rows(name, report[name])
    return "\n".join(lines)


def _rows(name: str, r: dict[str, Any]) -> list[str]:
    if name == "contacts":
        met = _ge(r["ratio"], GOAL_CONTACTS_RATIO) and _lt(
            r["p99_ms_at_70pct"], GOAL_CONTACTS_P99_MS
        )
        return [
            f"| contacts | {r['kefu_rps']}/s | {r['limit_rps']}/s "
            f"| {_pct(r['ratio'])} "
            f"| {_p99(r['p99_ms_at_70pct'], r['kefu_at_70pct'])} at 70% "
            f"| >= 40%, p99 < 50 ms | {_yes(met)} |"
        ]
    if name == "messages":
        met = _ge(r["ratio"], GOAL_MESSAGES_RATIO) and _lt(
            r["delivery_p99_ms"], GOAL_MESSAGES_P99_MS
        )
        return [
            f"| messages ({r['sessions']} sessions) | {r['kefu_per_s']}/s "
            f"| {r['limit_per_s']}/s | {_pct(r['ratio'])} "
            f"| delivery {_p99(r['delivery_p99_ms'], r['kefu_at_half'])} at half "
            f"| >= 50%, p99 < 20 ms | {_yes(met)} |"
        ]
    if name == "connections":
        per = r["bytes_per_connection"]
        return [
            f"| connections | {r['count']} idle, {per} B each | | | "
            f"| <= 20 KB each | {_yes(per <= GOAL_BYTES_PER_CONNECTION)} |"
        ]
    rows = []
    for row in r["by_agents"]:
        headline = row["agents"] == r["agents"]
        rows.append(
            f"| routing ({row['agents']} agents) | {row['kefu_per_s']}/s "
            f"| scan {row['scan_per_s']}/s | {row['ratio']}x | "
            + (
                f"| >= 100,000/s | {_yes(row['kefu_per_s'] >= GOAL_ROUTING_PER_S)} |"
                if headline
                else "| | |"
            )
        )
    return rows


def _p99(value: float | None, step: dict[str, Any] | None) -> str:
    # No finite p99: say how many requests failed or went unanswered instead.
    if value is not None:
        return f"p99 {value} ms"
    if step is None:
        return "p99 n/a"
    bad = step["failed"] + step["unfinished"]
    return f"p99 unbounded ({bad} of {step['scheduled']} failed)"


def _ge(value: float | None, bound: float) -> bool:
    return value is not None and value >= bound


def _lt(value: float | None, bound: float) -> bool:
    return value is not None and value < bound


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.1f}%"


def _yes(met: bool) -> str:
    return "yes" if met else "no"
