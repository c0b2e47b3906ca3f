"""Test helpers: a kefu server in a subprocess and thin HTTP/WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

CUSTOMER_SECRET = "test-customer-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def customer_token(customer_id: str, tier: str = "regular", **claims: Any) -> str:
    """A customer token as the host app would mint it."""
    body: dict[str, Any] = {
        "sub": customer_id,
        "tier": tier,
        "exp": int(time.time()) + 3600,
    }
    body.update(claims)
    return jwt.encode(body, CUSTOMER_SECRET, algorithm="HS256")


@dataclass
class Server:
    """A ``kefu serve --demo`` process on a free loopback port."""

    data_dir: Path
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    def start(self, timeout_s: float = 30.0) -> None:
        env = {**os.environ, "KEFU_CUSTOMER_TOKEN_SECRET": CUSTOMER_SECRET}
        self.log_path = self.data_dir / f"server-{self.port}.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kefu",
                "serve",
                "--demo",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--no-access-log",
                *self.args,
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kefu exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("kefu did not become ready")

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout_s: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Api:
    """An HTTP client holding one token."""

    def __init__(self, server: Server, token: str | None = None) -> None:
        self.server = server
        self.token = token
        headers = {} if token is None else {"authorization": f"Bearer {token}"}
        self.http = httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10)

    async def close(self) -> None:
        await self.http.aclose()

    async def contact(
        self,
        text: str = "where is my food, it is late",
        channel: str = "app",
        **extra: Any,
    ) -> dict[str, Any]:
        r = await self.http.post(
            "/v1/contacts", json={"text": text, "channel": channel, **extra}
        )
        assert r.status_code == 201, r.text
        session: dict[str, Any] = r.json()["session"]
        return session

    async def session(self, session_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/sessions/{session_id}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()["session"]
        return found

    async def my_sessions(self) -> list[dict[str, Any]]:
        r = await self.http.get("/v1/agents/me/sessions")
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["sessions"]
        return found

    async def history(
        self, session_id: str, after_seq: int = 0
    ) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"/v1/sessions/{session_id}/messages",
            params={"after_seq": after_seq, "limit": 500},
        )
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["messages"]
        return found

    async def close_session(self, session_id: str) -> dict[str, Any]:
        r = await self.http.post(f"/v1/sessions/{session_id}/close")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()["session"]
        return found

    async def status(self, status: str) -> None:
        r = await self.http.put("/v1/agents/me/status", json={"status": status})
        assert r.status_code == 200, r.text


async def login(server: Server, agent_id: str, password: str = "demo") -> Api:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            "/v1/agents/login", json={"agent_id": agent_id, "password": password}
        )
        assert r.status_code == 200, r.text
        return Api(server, r.json()["token"])


class Socket:
    """A WebSocket client that keeps every frame it receives, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed_code: int | None = None

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(orjson.loads(raw))
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed_code = self.ws.close_code
            self._new.set()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def wait_for(
        self, predicate: Any, timeout_s: float = 10.0, start: int = 0
    ) -> dict[str, Any]:
        """The first frame (from index ``start``) that matches, waiting if needed."""
        async with asyncio.timeout(timeout_s):
            index = start
            while True:
                while index < len(self.frames):
                    if predicate(self.frames[index]):
                        return self.frames[index]
                    index += 1
                if self._reader.done():
                    raise ConnectionError(f"closed with {self.closed_code}")
                self._new.clear()
                await self._new.wait()

    async def wait_closed(self, timeout_s: float = 10.0) -> int | None:
        async with asyncio.timeout(timeout_s):
            await self._reader
        return self.closed_code

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        return [
            f["message"]
            for f in self.frames
            if f["type"] == "message" and f["message"]["session_id"] == session_id
        ]

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self._reader


@contextlib.asynccontextmanager
async def connect(server: Server, token: str) -> AsyncIterator[Socket]:
    """An authenticated socket (waits for the ``authenticated`` frame)."""
    ws = await websockets.connect(server.ws_url, max_size=2**22)
    sock = Socket(ws)
    await sock.send({"type": "auth", "token": token})
    await sock.wait_for(lambda f: f["type"] == "authenticated")
    try:
        yield sock
    finally:
        await sock.close()


def of_type(kind: str, **fields: Any) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        return frame["type"] == kind and all(
            frame.get(k) == v for k, v in fields.items()
        )

    return match


def message_seq(session_id: str, seq: int) -> Any:
    def match(frame: dict[str, Any]) -> bool:
        return (
            frame["type"] == "message"
            and frame["message"]["session_id"] == session_id
            and frame["message"]["seq"] == seq
        )

    return match
