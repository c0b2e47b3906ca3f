"""``kefu bench messages``: chat messages over WebSocket against a bare echo.

kefu is seeded with agents, who log in, connect and go online; as many
customers then open a contact each (assigned at once) and connect.  A message
counts as done once the sender has its ``ack`` (it is durable) *and* the
agent's socket has received it.  The limit is a bare ``websockets`` echo
server: one round trip per message, the same frames sent over as many
connections by the same generator.  kefu's delivery p99 at half its highest
sustained rate is measured on a fresh process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from kefu.access.auth import hash_password
from kefu.backends.sql import SqlSettings, SqlStore, sqlite_url
from kefu.backends.store import AgentRecord
from kefu.routing.skills import DEFAULT_GROUPS
from kefu.simulator.bench import load, procs
from kefu.simulator.bench.contacts import customer_token
from kefu.simulator.bench.wire import WsClient

logger = logging.getLogger(__name__)

#: Agents seeded, and the sessions each holds: AGENTS * CAPACITY sessions.
AGENTS = 20
CAPACITY = 10
#: The first rate (messages per second, over all sessions) of the search.
START_RATE = 100.0
#: Share of kefu's highest sustained rate at which delivery p99 is reported.
REPORT_SHARE = 0.5
#: Seconds each server is warmed up for before its search.
WARMUP_S = 2.0
#: Seconds a step's messages still in flight may take to finish.
SETTLE_S = 30.0
#: Seconds a socket may take to authenticate.
AUTH_TIMEOUT_S = 10.0

TEXT = "the rider says he is outside but I cannot see him anywhere"
_PASSWORD = "bench"

# What must come back before a message counts as done.
_ACK = 1
_DELIVERED = 2
_ECHOED = 4


class Traffic:
    """The generator's target: sends on the lanes, matches what comes back."""

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.lanes: list[tuple[WsClient, str]] = []
        self._step = 0
        self._pending: dict[str, tuple[load.Recorder, int, list[int]]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def new_step(self) -> None:
        """Forget the last step's messages: late answers to them are ignored."""
        self._step += 1
        self._pending.clear()
        self._idle.set()

    def issue(self, index: int, recorder: load.Recorder) -> None:
        """Send message ``index`` on the next lane, round robin."""
        sock, session_id = self.lanes[index % len(self.lanes)]
        client_msg_id = f"b{self._step}-{index}"
        self._pending[client_msg_id] = (recorder, index, [0])
        self._idle.clear()
        recorder.mark_sent(index)
        sock.send_text(
            orjson.dumps(
                {
                    "type": "send",
                    "session_id": session_id,
                    "client_msg_id": client_msg_id,
                    "text": TEXT,
                }
            )
        )

    def on_customer(self, raw: bytes) -> None:
        """A frame on a customer's socket: the ack, or an error refusing a send."""
        frame = orjson.loads(raw)
        kind = frame["type"]
        if kind == "ack":
            self._progress(frame["client_msg_id"], _ACK)
        elif kind == "error" and "client_msg_id" in frame:
            self._fail(frame["client_msg_id"], frame.get("code", "error"))

    def on_agent(self, raw: bytes) -> None:
        """A frame on an agent's socket: a customer's message delivered."""
        frame = orjson.loads(raw)
        if frame["type"] == "message":
            message = frame["message"]
            if message["sender"]["role"] == "customer":
                self._progress(message["client_msg_id"], _DELIVERED)

    def on_echo(self, raw: bytes) -> None:
        """A frame back from the echo server."""
        self._progress(orjson.loads(raw)["client_msg_id"], _ECHOED)

    async def settle(self, timeout_s: float) -> None:
        """Wait (bounded) until every message sent so far is answered."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()

    def _progress(self, client_msg_id: str, part: int) -> None:
        entry = self._pending.get(client_msg_id)
        if entry is None:
            return
        recorder, index, seen = entry
        seen[0] |= part
        if seen[0] == self.needed:
            del self._pending[client_msg_id]
            recorder.mark_done(index, True)
            self._check_idle()

    def _fail(self, client_msg_id: str, code: str) -> None:
        entry = self._pending.pop(client_msg_id, None)
        if entry is not None:
            entry[0].mark_done(entry[1], False, code)
            self._check_idle()

    def _check_idle(self) -> None:
        if not self._pending:
            self._idle.set()


@dataclass(frozen=True, slots=True)
class ServerResult:
    """One server's search, and kefu's delivery at half its best rate."""

    search: load.Search
    reduced: load.StepResult | None


async def open_socket(
    port: int, path: str, token: str | None, on_text: Callable[[bytes], None]
) -> WsClient:
    """A connected socket; with ``token``, authenticated before it is returned."""
    # The first frame answers the auth; every later one goes to ``on_text``.
    authenticated = asyncio.Event()

    def first_then(raw: bytes) -> None:
        if not authenticated.is_set():
            authenticated.set()
            if b'"authenticated"' in raw:
                return
        on_text(raw)

    sock = await WsClient.connect(port, path, first_then)
    if token is None:
        authenticated.set()
        return sock
    sock.send_text(orjson.dumps({"type": "auth", "token": token}))
    async with asyncio.timeout(AUTH_TIMEOUT_S):
        await authenticated.wait()
    return sock


async def seed_agents(data_dir: Path, count: int, capacity: int) -> None:
    """Groups and agents written to a fresh store, before kefu starts on it."""
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    store = SqlStore(SqlSettings(sqlite_url(data_dir)))
    await store.start()
    try:
        password = hash_password(_PASSWORD)
        for group in DEFAULT_GROUPS:
            await store.put_group(group)
        for n in range(count):
            await store.put_agent(
                AgentRecord(
                    f"bench-agent-{n}", f"Agent {n}", password, capacity, DEFAULT_GROUPS
                )
            )
    finally:
        await store.stop()


async def _kefu_lanes(port: int, traffic: Traffic) -> list[WsClient]:
    """Agents online and connected, then one assigned session per customer."""
    sockets: list[WsClient] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        # Agents: log in, connect, go online.
        for n in range(AGENTS):
            r = await http.post(
                "/v1/agents/login",
                json={"agent_id": f"bench-agent-{n}", "password": _PASSWORD},
            )
            r.raise_for_status()
            token = r.json()["token"]
            sockets.append(await open_socket(port, "/v1/ws", token, traffic.on_agent))
            r = await http.put(
                "/v1/agents/me/status",
                json={"status": "online"},
                headers={"authorization": f"Bearer {token}"},
            )
            r.raise_for_status()

        # Customers: one contact each, assigned at once, then a socket each.
        for n in range(AGENTS * CAPACITY):
            token = customer_token(f"bench-chat-{n:04d}")
            r = await http.post(
                "/v1/contacts",
                json={"text": "where is my food, it is late", "channel": "app"},
                headers={"authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            session = r.json()["session"]
            if session["state"] != "assigned":
                raise RuntimeError(f"session {n} not assigned: {session['state']}")
            sock = await open_socket(port, "/v1/ws", token, traffic.on_customer)
            sockets.append(sock)
            traffic.lanes.append((sock, session["id"]))
    return sockets


async def _echo_lanes(port: int, traffic: Traffic) -> list[WsClient]:
    """As many connections to the echo server as kefu has sessions."""
    sockets = []
    for n in range(AGENTS * CAPACITY):
        sock = await open_socket(port, "/", None, traffic.on_echo)
        sockets.append(sock)
        traffic.lanes.append((sock, f"{n:032x}"))
    return sockets


StepFn = Callable[[float, float], Awaitable[load.StepResult]]


@contextlib.asynccontextmanager
async def driven(kind: str, tag: str, workdir: Path) -> AsyncIterator[StepFn]:
    """A fresh server (``kefu`` or ``echo``) with its lanes, warmed up."""
    # The server, and how its lanes are opened and answered.
    port = procs.free_port()
    lanes: Callable[[int, Traffic], Awaitable[list[WsClient]]]
    if kind == "kefu":
        data_dir = workdir / f"messages-{tag}"
        await seed_agents(data_dir, AGENTS, CAPACITY)
        args, ready = procs.kefu_args(port, data_dir), "/readyz"
        lanes, traffic = _kefu_lanes, Traffic(_ACK | _DELIVERED)
    else:
        args, ready = procs.limit_args("echo", port), None
        lanes, traffic = _echo_lanes, Traffic(_ECHOED)
    async with procs.child(tag, args, port, ready, workdir / f"{tag}.log"):
        sockets = await lanes(port, traffic)
        try:

            async def step(rate: float, window_s: float) -> load.StepResult:
                traffic.new_step()
                result = await load.run_step(traffic, rate, window_s)
                await traffic.settle(SETTLE_S)
                return result

            await step(START_RATE, WARMUP_S)
            yield step
        finally:
            for sock in sockets:
                sock.abort()


async def run(seconds: float, workdir: Path) -> dict[str, Any]:
    """kefu, then the echo limit; the figures of ``messages`` in the JSON."""
    ladder = load.Ladder(START_RATE, seconds)
    # kefu: the highest sustained rate.
    async with driven("kefu", "kefu", workdir) as step:
        kefu = await load.find_max_rate(step, ladder, "messages kefu")

    # kefu again, fresh (no overload behind it), at half that rate.
    reduced = None
    if kefu.best_rate > 0:
        async with driven("kefu", "kefu-at-half", workdir) as step:
            reduced = await step(kefu.best_rate * REPORT_SHARE, seconds)

    # The bare websockets echo.
    async with driven("echo", "echo-limit", workdir) as step:
        limit = await load.find_max_rate(step, ladder, "messages echo-limit")
    return summarise(ServerResult(kefu, reduced), ServerResult(limit, None))


def summarise(kefu: ServerResult, limit: ServerResult) -> dict[str, Any]:
    """The JSON figures, with every step kept for whoever checks them."""
    kefu_rate, limit_rate = kefu.search.best_rate, limit.search.best_rate
    p99 = kefu.reduced.p99_ms if kefu.reduced else math.nan
    return {
        "kefu_per_s": round(kefu_rate, 1),
        "limit_per_s": round(limit_rate, 1),
        "ratio": round(kefu_rate / limit_rate, 3) if limit_rate else None,
        "delivery_p99_ms": load.round_ms(p99),
        "sessions": AGENTS * CAPACITY,
        "generator_send_rate_at_limit": (
            round(limit.search.best.send_rate, 1) if limit.search.best else None
        ),
        "kefu_steps": [s.summary() for s in kefu.search.steps],
        "limit_steps": [s.summary() for s in limit.search.steps],
        "kefu_at_half": kefu.reduced.summary() if kefu.reduced else None,
    }
