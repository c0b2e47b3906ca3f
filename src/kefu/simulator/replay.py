"""``kefu replay outage``: the analysed outage, replayed on this machine.

Each run starts a fresh kefu (embedded store) and a fake SMS provider as
processes on loopback, seeds simulated agents, and drives an open-loop Poisson
arrival of simulated customers: a base rate, then a surge of three times
that, during which the SMS provider slows from 200 ms to 15 s, then the base
rate again.  Every run sees the same arrivals (same seed).  The base rate
comes from a calibration of kefu as built, so the surge is within what it
sustains here.  Runs differ only in which defects of the replaced system are
switched back on (:mod:`kefu.access.defects`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson

from kefu.access.auth import hash_password
from kefu.backends.sql import SqlSettings, SqlStore, sqlite_url
from kefu.backends.store import AgentRecord
from kefu.routing.skills import DEFAULT_GROUPS
from kefu.simulator.actors import (
    OTHER_TEXTS,
    SENSITIVE_TEXTS,
    Agent,
    Customer,
    CustomerResult,
)
from kefu.simulator.rawhttp import RawHttp

SECRET = "replay-customer-secret-0123456789abcdef"


@dataclass(frozen=True)
class Scenario:
    """Durations (seconds, before scaling) and rates of one replay."""

    base_s: float = 20.0
    surge_s: float = 30.0
    after_s: float = 20.0
    surge_factor: float = 3.0
    sms_normal_ms: float = 200.0
    sms_surge_ms: float = 15_000.0
    connect_deadline_s: float = 10.0
    agent_capacity: int = 5
    #: Mean seconds an agent spends on one piece of work (two per session).
    agent_work_s: float = 1.0
    #: Share of contacts whose issue type needs SMS verification.
    sensitive_share: float = 0.6
    #: Upper bound on the base rate, so one machine can drive the load.
    max_base_rate: float = 12.0
    seed: int = 7

    def scaled(self, factor: float) -> Scenario:
        return Scenario(
            **{
                **self.__dict__,
                "base_s": self.base_s * factor,
                "surge_s": self.surge_s * factor,
                "after_s": self.after_s * factor,
            }
        )

    @property
    def duration_s(self) -> float:
        return self.base_s + self.surge_s + self.after_s


@dataclass
class RunResult:
    defects: list[str]
    customers: list[CustomerResult]
    max_agent_load: int
    agent_capacity: int
    lost_messages: int
    surge_window: tuple[float, float]
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        attempted = len(self.customers)
        connected = [c for c in self.customers if c.connected]
        opens = sorted(c.open_s * 1000 for c in connected if c.open_s is not None)
        firsts = sorted(
            c.first_response_s for c in self.customers if c.first_response_s is not None
        )
        return {
            "defects": self.defects,
            "contacts_attempted": attempted,
            "connect_rate": round(len(connected) / attempted, 4) if attempted else None,
            "contact_open_ms": {"p50": _pct(opens, 50), "p99": _pct(opens, 99)},
            "first_response_s": {
                "mean": round(sum(firsts) / len(firsts), 2) if firsts else None,
                "p99": _pct(firsts, 99),
                "answered": len(firsts),
            },
            "max_agent_load": self.max_agent_load,
            "agent_capacity": self.agent_capacity,
            "shed": sum(c.shed for c in self.customers),
            "timeouts": sum(c.timeouts for c in self.customers),
            "lost_messages": self.lost_messages,
        }


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))
    return round(values[index], 1)


# -- processes -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _process(
    args: list[str],
    ready_url: str,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process on loopback, waited for until ``ready_url`` answers 200."""
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu", *args],
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=out,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"kefu {args[0]} exited early")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def _kefu(data_dir: Path, *extra: str) -> Iterator[str]:
    """A ``kefu serve`` process on a free loopback port; yields its base URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--no-access-log",
        "--log-level",
        "warning",
        # Every simulated agent logs in from this one address.
        "--logins-per-address",
        "100000",
        *extra,
    ]
    with _process(
        args,
        url + "/readyz",
        env={"KEFU_CUSTOMER_TOKEN_SECRET": SECRET},
        log=data_dir / "kefu.log",
    ):
        yield url


async def _seed_agents(data_dir: Path, count: int, capacity: int) -> None:
    store = SqlStore(SqlSettings(sqlite_url(data_dir)))
    await store.start()
    password = hash_password("replay")
    for group in DEFAULT_GROUPS:
        await store.put_group(group)
    for n in range(count):
        await store.put_agent(
            AgentRecord(f"sim-{n}", f"Agent {n}", password, capacity, DEFAULT_GROUPS)
        )
    await store.stop()


def _token(customer_id: str) -> str:
    claims = {"sub": customer_id, "exp": int(time.time()) + 7200}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# -- arrivals ------------------------------------------------------------------


def arrivals(scenario: Scenario, base_rate: float) -> list[tuple[float, str]]:
    """Poisson arrival times (seconds from start) and first messages, seeded."""
    rng = random.Random(scenario.seed)
    peak = base_rate * scenario.surge_factor
    surge = (scenario.base_s, scenario.base_s + scenario.surge_s)
    out: list[tuple[float, str]] = []
    t = 0.0
    # Thinning: candidates at the peak rate, kept in proportion to the rate now.
    while True:
        t += rng.expovariate(peak)
        if t >= scenario.duration_s:
            return out
        rate = peak if surge[0] <= t < surge[1] else base_rate
        if rng.random() * peak <= rate:
            texts = (
                SENSITIVE_TEXTS
                if rng.random() < scenario.sensitive_share
                else OTHER_TEXTS
            )
            out.append((t, rng.choice(texts)))


# -- one run -------------------------------------------------------------------


async def run_once(
    scenario: Scenario,
    defects: Sequence[str],
    base_rate: float,
    agents: int,
    workdir: Path,
) -> RunResult:
    """One replay run with the given defects switched on."""
    data_dir = workdir / ("run-" + ("-".join(defects) or "none"))
    data_dir.mkdir(parents=True)
    await _seed_agents(data_dir, agents, scenario.agent_capacity)
    sms_port = _free_port()
    sms_url = f"http://127.0.0.1:{sms_port}"
    sms_args = [
        "fake-sms",
        "--port",
        str(sms_port),
        "--latency-ms",
        str(scenario.sms_normal_ms),
    ]
    with (
        _process(sms_args, sms_url + "/control"),
        _kefu(
            data_dir,
            "--sms-url",
            sms_url,
            "--offer-timeout",
            "600",
            "--defects",
            ",".join(defects) or "none",
        ) as kefu_url,
    ):
        return await _drive(
            scenario, list(defects), base_rate, agents, kefu_url, sms_url
        )


async def _drive(
    scenario: Scenario,
    defects: list[str],
    base_rate: float,
    agent_count: int,
    kefu_url: str,
    sms_url: str,
) -> RunResult:
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=kefu_url, limits=limits, timeout=30) as http:
        # Agents log in and go online, each with their own working speed.
        rng = random.Random(scenario.seed + 1)
        agents = []
        for n in range(agent_count):
            r = await http.post(
                "/v1/agents/login", json={"agent_id": f"sim-{n}", "password": "replay"}
            )
            speed = scenario.agent_work_s * rng.uniform(0.5, 1.5)
            agents.append(
                Agent(kefu_url, f"sim-{n}", r.json()["token"], speed, random.Random(n))
            )
        stop = asyncio.Event()
        agent_tasks = [asyncio.create_task(a.run(http, stop)) for a in agents]
        await _wait_online(http, agents)

        # Customers arrive on schedule, whatever happened to those before.
        plan = arrivals(scenario, base_rate)
        surge = (scenario.base_s, scenario.base_s + scenario.surge_s)
        sms = asyncio.create_task(_sms_timeline(sms_url, scenario))
        started = time.monotonic()
        chat_timeout = scenario.duration_s + 60.0
        tasks = [
            asyncio.create_task(
                _arrive(http, kefu_url, started, at, text, n, scenario, chat_timeout)
            )
            for n, (at, text) in enumerate(plan)
        ]
        customers = await asyncio.gather(*tasks)
        await sms
        stop.set()
        await asyncio.gather(*agent_tasks, return_exceptions=True)
        lost = await _count_lost(http, customers)
    return RunResult(
        defects,
        list(customers),
        max(a.stats.max_load for a in agents),
        scenario.agent_capacity,
        lost,
        surge,
    )


async def _wait_online(http: httpx.AsyncClient, agents: list[Agent]) -> None:
    token = agents[0].token
    for _ in range(300):
        r = await http.get("/v1/agents", headers={"authorization": f"Bearer {token}"})
        if r.status_code != 200:
            raise RuntimeError(f"agents list failed: {r.status_code} {r.text}")
        online = [
            a for a in r.json()["agents"] if a["status"] == "online" and a["connected"]
        ]
        if len(online) >= len(agents):
            return
        await asyncio.sleep(0.1)


async def _arrive(
    http: httpx.AsyncClient,
    url: str,
    started: float,
    at: float,
    text: str,
    n: int,
    scenario: Scenario,
    chat_timeout: float,
) -> CustomerResult:
    await asyncio.sleep(max(0.0, started + at - time.monotonic()))
    customer = Customer(
        url, _token(f"replay-{n}"), text, scenario.connect_deadline_s, http
    )
    result = await customer.run(at, chat_timeout)
    result.arrived_at = at
    return result


async def _sms_timeline(sms_url: str, scenario: Scenario) -> None:
    """The provider slows to 15 s for the surge, then recovers."""
    async with httpx.AsyncClient(base_url=sms_url) as http:
        await asyncio.sleep(scenario.base_s)
        await http.put("/control", json={"latency_ms": scenario.sms_surge_ms})
        await asyncio.sleep(scenario.surge_s)
        await http.put("/control", json={"latency_ms": scenario.sms_normal_ms})
        await asyncio.sleep(scenario.after_s)


async def _count_lost(
    http: httpx.AsyncClient, customers: Sequence[CustomerResult]
) -> int:
    """Messages a client saw acknowledged or delivered but not in history."""
    lost = 0
    for n, customer in enumerate(customers):
        if customer.session_id is None or not customer.acked:
            continue
        headers = {"authorization": f"Bearer {_token(f'replay-{n}')}"}
        r = await http.get(
            f"/v1/sessions/{customer.session_id}/messages",
            params={"limit": 500},
            headers=headers,
        )
        stored = {m["seq"] for m in r.json()["messages"]}
        lost += len(customer.acked - stored)
    return lost


# -- calibration ---------------------------------------------------------------


async def calibrate(workdir: Path, seconds: float = 3.0) -> float:
    """Contacts per second kefu as built completes here, closed loop, 32 at once."""
    data_dir = workdir / "calibration"
    data_dir.mkdir(parents=True)
    await _seed_agents(data_dir, 0, 5)
    with _kefu(data_dir) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            done = 0
            deadline = time.monotonic() + seconds

            async def loop(worker: int) -> None:
                nonlocal done
                n = 0
                while time.monotonic() < deadline:
                    n += 1
                    headers = {"authorization": f"Bearer {_token(f'cal-{worker}-{n}')}"}
                    r = await http.post(
                        "/v1/contacts",
                        headers=headers,
                        json={"text": "late food", "channel": "app"},
                    )
                    if r.status_code == 201:
                        done += 1

            started = time.monotonic()
            await asyncio.gather(*(loop(w) for w in range(32)))
            return done / (time.monotonic() - started)


# -- the command ---------------------------------------------------------------


async def replay_outage(
    runs: Sequence[Sequence[str]], scenario: Scenario, workdir: Path | None = None
) -> dict[str, Any]:
    """Calibrate, then replay once per defect set; returns the report."""
    with tempfile.TemporaryDirectory(prefix="kefu-replay-") as tmp:
        root = workdir or Path(tmp)
        sustained = await calibrate(root)
        base_rate = min(scenario.max_base_rate, sustained / scenario.surge_factor * 0.5)
        # Enough agents that, without defects, the surge is served promptly.
        per_session_s = 2 * scenario.agent_work_s + 1.0
        agents = math.ceil(
            base_rate
            * scenario.surge_factor
            * per_session_s
            * 1.5
            / scenario.agent_capacity
        )
        results = []
        for defects in runs:
            result = await run_once(scenario, list(defects), base_rate, agents, root)
            results.append(result)
        return {
            "calibration": {
                "sustained_contacts_per_s": round(sustained, 1),
                "base_rate_per_s": round(base_rate, 2),
                "surge_rate_per_s": round(base_rate * scenario.surge_factor, 2),
                "agents": agents,
            },
            "scenario": {k: v for k, v in scenario.__dict__.items()},
            "runs": [r.summary() for r in results],
            "_results": results,
        }


def timeline(result: RunResult, bucket_s: float = 2.0) -> list[dict[str, Any]]:
    """Connect rate and contact-open p99 per time bucket of arrival."""
    buckets: dict[int, list[CustomerResult]] = {}
    for customer in result.customers:
        buckets.setdefault(int(customer.arrived_at // bucket_s), []).append(customer)
    rows = []
    for index in sorted(buckets):
        group = buckets[index]
        opens = sorted(c.open_s * 1000 for c in group if c.open_s is not None)
        rows.append(
            {
                "t": index * bucket_s,
                "connect_rate": sum(c.connected for c in group) / len(group),
                "open_p99_ms": _pct(opens, 99),
            }
        )
    return rows


def plot(report: dict[str, Any], path: Path) -> None:
    """Connect rate and contact-open p99 over time, one column per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results: list[RunResult] = report["_results"]
    fig, axes = plt.subplots(
        2, len(results), figsize=(5 * len(results), 6), squeeze=False, sharex=True
    )
    for column, result in enumerate(results):
        rows = timeline(result)
        times = [row["t"] for row in rows]
        top, bottom = axes[0][column], axes[1][column]
        top.plot(times, [row["connect_rate"] * 100 for row in rows])
        top.set_ylim(0, 105)
        top.set_title("defects: " + (", ".join(result.defects) or "none"), fontsize=9)
        top.set_ylabel("connect rate %")
        bottom.plot(times, [row["open_p99_ms"] or 0 for row in rows])
        bottom.set_yscale("symlog")
        bottom.set_ylabel("contact-open p99 ms")
        bottom.set_xlabel("arrival time s")
        for axis in (top, bottom):
            axis.axvspan(*result.surge_window, color="orange", alpha=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def table(report: dict[str, Any]) -> str:
    """The runs as a Markdown table."""
    lines = [
        "| defects | contacts | connect rate | open p50 ms | open p99 ms | "
        "first response mean s | first response p99 s | max load / capacity | "
        "shed | timeouts | lost |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        lines.append(
            f"| {', '.join(run['defects']) or 'none'} | {run['contacts_attempted']} "
            f"| {_percent(run['connect_rate'])} | {run['contact_open_ms']['p50']} "
            f"| {run['contact_open_ms']['p99']} "
            f"| {run['first_response_s']['mean']} | {run['first_response_s']['p99']} "
            f"| {run['max_agent_load']} / {run['agent_capacity']} | {run['shed']} "
            f"| {run['timeouts']} | {run['lost_messages']} |"
        )
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


# -- overload ------------------------------------------------------------------


@dataclass
class _Attempts:
    accepted_ms: list[float] = field(default_factory=list)
    rejected_ms: list[float] = field(default_factory=list)
    missing_retry_after: int = 0
    errors: int = 0


async def replay_overload(
    scenario: Scenario, factor: float = 2.0, workdir: Path | None = None
) -> dict[str, Any]:
    """Arrivals at ``factor`` times what kefu sustains, for the surge phase.

    Customers retry (honouring Retry-After) until they connect, then write one
    message each.  Reports accepted and rejected latencies, whether everyone
    connected after the surge, the deepest internal queues seen, and losses.
    """
    with tempfile.TemporaryDirectory(prefix="kefu-overload-") as tmp:
        root = workdir or Path(tmp)
        sustained = await calibrate(root)
        rate = sustained * factor
        data_dir = root / "overload"
        data_dir.mkdir(parents=True)
        await _seed_agents(data_dir, 0, scenario.agent_capacity)
        with _kefu(data_dir) as url:
            report = await _overload(url, rate, scenario)
        report["calibration"] = {
            "sustained_contacts_per_s": round(sustained, 1),
            "offered_per_s": round(rate, 1),
        }
        return report


async def _overload(url: str, rate: float, scenario: Scenario) -> dict[str, Any]:
    rng = random.Random(scenario.seed)
    starts: list[float] = []
    t = 0.0
    while (t := t + rng.expovariate(rate)) < scenario.surge_s:
        starts.append(t)
    # Tokens are minted ahead, so the generator spends its time sending.
    tokens = [_token(f"over-{n}") for n in range(len(starts))]
    attempts = _Attempts()
    raw = RawHttp(int(url.rsplit(":", 1)[1]), size=1024)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        sampler = asyncio.create_task(_sample_queues(http))
        began = time.monotonic()
        outcomes = await asyncio.gather(
            *(
                _persistent_customer(raw, began + at, tokens[n], attempts, scenario)
                for n, at in enumerate(starts)
            )
        )
        sampler.cancel()
        peaks = await asyncio.gather(sampler, return_exceptions=True)
        lost = 0
        for n, (sid, seq) in enumerate(outcomes):
            if sid is None or seq is None:
                continue
            headers = {"authorization": f"Bearer {tokens[n]}"}
            r = await http.get(f"/v1/sessions/{sid}/messages", headers=headers)
            lost += seq not in {m["seq"] for m in r.json()["messages"]}
    await raw.close()
    accepted, rejected = sorted(attempts.accepted_ms), sorted(attempts.rejected_ms)
    peak = peaks[0] if isinstance(peaks[0], dict) else {}
    return {
        "customers": len(starts),
        "connected": sum(sid is not None for sid, _ in outcomes),
        "accepted": len(accepted),
        "accepted_ms": {"p50": _pct(accepted, 50), "p99": _pct(accepted, 99)},
        "rejected": len(rejected),
        "rejected_ms": {"p50": _pct(rejected, 50), "p99": _pct(rejected, 99)},
        "rejections_without_retry_after": attempts.missing_retry_after,
        "errors": attempts.errors,
        "peak_queue_depth": peak.get("queue", 0),
        "peak_pending_writes": peak.get("writes", 0),
        "lost_messages": lost,
    }


_CONTACT = orjson.dumps({"text": "where is my food", "channel": "app"})


async def _persistent_customer(
    raw: RawHttp, at: float, token: str, attempts: _Attempts, scenario: Scenario
) -> tuple[str | None, int | None]:
    """Retry until connected (bounded), then write one message."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    give_up = time.monotonic() + scenario.surge_s + 120.0
    while time.monotonic() < give_up:
        sent = time.monotonic()
        try:
            status, response_headers, body = await raw.request(
                "POST", "/v1/contacts", headers, _CONTACT
            )
        except (OSError, asyncio.IncompleteReadError, ValueError):
            attempts.errors += 1
            await asyncio.sleep(1.0)
            continue
        elapsed_ms = (time.monotonic() - sent) * 1000
        if status == 201:
            attempts.accepted_ms.append(elapsed_ms)
            sid = orjson.loads(body)["session"]["id"]
            message = orjson.dumps({"text": "hello?", "client_msg_id": "o1"})
            status, _, body = await raw.request(
                "POST", f"/v1/sessions/{sid}/messages", headers, message
            )
            seq = orjson.loads(body)["message"]["seq"] if status in (200, 201) else None
            return sid, seq
        if status in (429, 503):
            attempts.rejected_ms.append(elapsed_ms)
            retry = response_headers.get("retry-after")
            attempts.missing_retry_after += retry is None
            await asyncio.sleep(float(retry or 1))
            continue
        attempts.errors += 1
        return None, None
    return None, None


async def _sample_queues(http: httpx.AsyncClient) -> dict[str, float]:
    """The deepest session queue and store backlog seen, sampled every 0.5 s."""
    peak = {"queue": 0.0, "writes": 0.0}
    try:
        while True:
            text = (await http.get("/metrics")).text
            queue = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("kefu_queue_depth{")
            )
            writes = next(
                (
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith("kefu_store_pending_writes ")
                ),
                0.0,
            )
            peak["queue"] = max(peak["queue"], queue)
            peak["writes"] = max(peak["writes"], writes)
            await asyncio.sleep(0.5)
    except asyncio.CancelledError:
        return peak
