"""Simulated customers and agents, speaking kefu's public HTTP and WebSocket API."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import websockets

#: What simulated customers write first: sensitive issues (refund, account)
#: need SMS verification; the rest do not.
SENSITIVE_TEXTS = ("I want a refund for my order", "I cannot log in to my account")
OTHER_TEXTS = (
    "where is my food, it is late",
    "the rider was rude",
    "a dish is missing from my bag",
    "my coupon did not apply",
)


@dataclass
class CustomerResult:
    arrived_at: float
    connected: bool = False
    open_s: float | None = None
    first_response_s: float | None = None
    shed: int = 0
    timeouts: int = 0
    session_id: str | None = None
    #: Seqs this customer saw acknowledged or delivered, to check for losses.
    acked: set[int] = field(default_factory=set)


class Customer:
    """One customer: opens a contact (retrying as told), chats, waits for close."""

    def __init__(
        self,
        base_url: str,
        token: str,
        text: str,
        deadline_s: float,
        http: httpx.AsyncClient,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.text = text
        self.deadline_s = deadline_s
        self.http = http

    async def run(self, arrived_at: float, chat_timeout_s: float) -> CustomerResult:
        result = CustomerResult(arrived_at)
        first_try = time.monotonic()
        session = await self._open(result)
        if session is None:
            return result
        result.session_id = session["id"]
        with contextlib.suppress(OSError, TimeoutError, websockets.WebSocketException):
            async with asyncio.timeout(chat_timeout_s):
                await self._chat(result, session["id"], first_try)
        return result

    async def _open(self, result: CustomerResult) -> dict[str, Any] | None:
        # Retry (honouring Retry-After) until connected or the deadline passes.
        started = time.monotonic()
        headers = {"authorization": f"Bearer {self.token}"}
        body = {"text": self.text, "channel": "app"}
        while (left := self.deadline_s - (time.monotonic() - started)) > 0:
            attempt = time.monotonic()
            try:
                r = await self.http.post(
                    "/v1/contacts", json=body, headers=headers, timeout=left
                )
            except httpx.TimeoutException:
                result.timeouts += 1
                return None
            except httpx.HTTPError:
                await asyncio.sleep(min(0.5, max(0.0, left)))
                continue
            if r.status_code == 201:
                result.connected = True
                result.open_s = time.monotonic() - attempt
                session: dict[str, Any] = r.json()["session"]
                return session
            if r.status_code in (429, 503):
                result.shed += 1
                wait = float(r.headers.get("retry-after", "1"))
                await asyncio.sleep(min(wait, max(0.0, left - 0.01)))
                continue
            return None
        return None

    async def _chat(
        self, result: CustomerResult, session_id: str, started: float
    ) -> None:
        ws_url = self.base_url.replace("http", "ws", 1) + "/v1/ws"
        async with websockets.connect(ws_url, max_size=2**22) as ws:
            await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
            await ws.send(
                orjson.dumps(
                    {"type": "resume", "session_id": session_id, "after_seq": 0}
                ).decode()
            )
            replied = False
            async for raw in ws:
                frame = orjson.loads(raw)
                kind = frame["type"]
                if kind == "message" and frame["message"]["session_id"] == session_id:
                    message = frame["message"]
                    result.acked.add(message["seq"])
                    if message["sender"]["role"] == "agent" and not replied:
                        result.first_response_s = time.monotonic() - started
                        replied = True
                        await ws.send(
                            orjson.dumps(
                                {
                                    "type": "send",
                                    "session_id": session_id,
                                    "client_msg_id": "reply-1",
                                    "text": "thank you",
                                }
                            ).decode()
                        )
                elif kind == "ack":
                    result.acked.add(frame["seq"])
                elif (
                    kind == "session"
                    and frame["session"]["id"] == session_id
                    and frame["session"]["state"] == "closed"
                ):
                    return


@dataclass
class AgentStats:
    max_load: int = 0
    answered: int = 0
    closed: int = 0


class Agent:
    """One agent: answers sessions one after another at their own speed.

    A session needs two pieces of work: a first answer, then (after the
    customer replies) a last answer and a close.  Work waits in the agent's
    own queue, so an agent holding many sessions answers each of them late.
    """

    def __init__(
        self,
        base_url: str,
        agent_id: str,
        token: str,
        work_s: float,
        rng: random.Random,
    ) -> None:
        self.base_url = base_url
        self.agent_id = agent_id
        self.token = token
        self.work_s = work_s
        self.rng = rng
        self.stats = AgentStats()
        self._held: set[str] = set()
        self._answered: set[str] = set()
        self._work: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        self._ws: Any = None

    async def run(self, http: httpx.AsyncClient, stop: asyncio.Event) -> None:
        ws_url = self.base_url.replace("http", "ws", 1) + "/v1/ws"
        headers = {"authorization": f"Bearer {self.token}"}
        async with websockets.connect(ws_url, max_size=2**24) as ws:
            self._ws = ws
            await ws.send(orjson.dumps({"type": "auth", "token": self.token}).decode())
            await http.put(
                "/v1/agents/me/status", json={"status": "online"}, headers=headers
            )
            worker = asyncio.create_task(self._work_loop(http, headers))
            reader = asyncio.create_task(self._read(ws))
            await stop.wait()
            worker.cancel()
            reader.cancel()
            await asyncio.gather(worker, reader, return_exceptions=True)

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            frame = orjson.loads(raw)
            if frame["type"] == "session":
                self._on_session(frame["session"])
            elif frame["type"] == "message":
                message = frame["message"]
                sid = message["session_id"]
                if (
                    message["sender"]["role"] == "customer"
                    and message["seq"] > 1
                    and sid in self._answered
                ):
                    self._work.put_nowait((sid, True))

    def _on_session(self, session: dict[str, Any]) -> None:
        sid = session["id"]
        mine = session["agent_id"] == self.agent_id and session["state"] == "assigned"
        if mine and sid not in self._held:
            self._held.add(sid)
            self.stats.max_load = max(self.stats.max_load, len(self._held))
            self._work.put_nowait((sid, False))
        elif not mine:
            self._held.discard(sid)

    async def _work_loop(
        self, http: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        while True:
            sid, last = await self._work.get()
            await asyncio.sleep(self.rng.expovariate(1.0 / self.work_s))
            if sid not in self._held:
                continue
            text = "all sorted, goodbye" if last else "hello, I am looking into it"
            await self._ws.send(
                orjson.dumps(
                    {
                        "type": "send",
                        "session_id": sid,
                        "client_msg_id": f"{sid}-{'last' if last else 'first'}",
                        "text": text,
                    }
                ).decode()
            )
            if not last:
                self._answered.add(sid)
                self.stats.answered += 1
                continue
            await http.post(f"/v1/sessions/{sid}/close", headers=headers)
            self._held.discard(sid)
            self.stats.closed += 1
