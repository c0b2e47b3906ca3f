"""The Socket.IO transport, over long-polling and WebSocket, against a real server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from tests.kefu_client import (
    Api,
    Server,
    connect,
    customer_token,
    login,
    message_seq,
    of_type,
)

TRANSPORTS = [["polling"], ["websocket"]]


class SioClient:
    """A Socket.IO client that keeps every event's payload, in order."""

    def __init__(self, transports: list[str]) -> None:
        self.transports = transports
        self.sio = socketio.AsyncClient(reconnection=False)
        self.frames: list[dict[str, Any]] = []
        self.refusal: Any = None
        self._new = asyncio.Event()
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._disconnected)

    async def _record(self, event: str, *args: Any) -> None:
        self.frames.append(args[0] if args else {"type": event})
        self._new.set()

    async def _refused(self, data: Any) -> None:
        self.refusal = data
        self._new.set()

    async def _disconnected(self, reason: Any = None) -> None:
        self._new.set()

    async def connect(self, server: Server, auth: Any) -> None:
        await self.sio.connect(
            server.url,
            auth=auth,
            transports=self.transports,
            socketio_path="socket.io",
            wait_timeout=10,
        )

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit with an acknowledgement callback and return what it got."""
        return await self.sio.call(event, data, timeout=10)

    async def wait_for(
        self, predicate: Any, timeout_s: float = 10.0, start: int = 0
    ) -> dict[str, Any]:
        """The first payload (from index ``start``) that matches, waiting if needed."""
        async with asyncio.timeout(timeout_s):
            index = start
            while True:
                while index < len(self.frames):
                    if predicate(self.frames[index]):
                        return self.frames[index]
                    index += 1
                if not self.sio.connected:
                    raise ConnectionError("disconnected")
                self._new.clear()
                await self._new.wait()

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        return [
            f["message"]
            for f in self.frames
            if f["type"] == "message" and f["message"]["session_id"] == session_id
        ]


@contextlib.asynccontextmanager
async def sio_connect(
    server: Server, token: str, transports: list[str]
) -> AsyncIterator[SioClient]:
    """An authenticated Socket.IO client (waits for the ``authenticated`` event)."""
    client = SioClient(transports)
    await client.connect(server, {"token": token})
    await client.wait_for(of_type("authenticated"))
    try:
        yield client
    finally:
        await client.sio.disconnect()


def _send(sid: str, client_msg_id: str, text: str) -> dict[str, str]:
    return {"session_id": sid, "client_msg_id": client_msg_id, "text": text}


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
async def test_socketio_customer_chats_with_ws_agent(
    server: Server, transports: list[str]
) -> None:
    """A Socket.IO customer and a /v1/ws agent exchange messages both ways."""
    agent = await login(server, "agent-1")
    customer = Api(server, customer_token("sio-alice"))
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("my order is late"))["id"]
        async with sio_connect(server, customer.token or "", transports) as sio:
            # The customer hears of their session on connect.
            await sio.wait_for(
                lambda f: f["type"] == "session" and f["session"]["id"] == sid
            )

            # Customer to agent: the callback gets the ack, the agent the message.
            ack = await sio.call("send", _send(sid, "c1", "hello?"))
            assert ack == {
                "type": "ack",
                "client_msg_id": "c1",
                "session_id": sid,
                "seq": 2,
            }
            await sio.wait_for(of_type("ack", client_msg_id="c1"))
            got = await agent_ws.wait_for(message_seq(sid, 2))
            assert got["message"]["sender"] == {"role": "customer", "id": "sio-alice"}

            # Agent to customer, with typing and read on the way.
            await agent_ws.send({"type": "typing", "session_id": sid})
            typing = await sio.wait_for(of_type("typing", session_id=sid))
            assert typing["sender"] == {"role": "agent", "id": "agent-1"}
            await agent_ws.send({"type": "send", **_send(sid, "a1", "on it")})
            reply = await sio.wait_for(message_seq(sid, 3))
            assert reply["message"]["text"] == "on it"
            assert await sio.call("read", {"session_id": sid, "seq": 3}) is None
            read = await agent_ws.wait_for(of_type("read", session_id=sid))
            assert read["reader"] == {"role": "customer", "id": "sio-alice"}
            assert await sio.call("ping") == {"type": "pong"}

    assert [m["seq"] for m in await customer.history(sid)] == [1, 2, 3]
    await agent.close()
    await customer.close()


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
async def test_reconnecting_client_resumes_each_message_once_in_order(
    server: Server, transports: list[str]
) -> None:
    """A client that drops and reconnects gets each missed message once, in order."""
    agent = await login(server, "agent-2")
    customer = Api(server, customer_token("sio-bob"))
    token = customer.token or ""
    async with connect(server, agent.token or "") as agent_ws:
        await agent.status("online")
        sid = (await customer.contact("wrong item"))["id"]

        async def agent_says(n: int) -> None:
            await agent_ws.send({"type": "send", **_send(sid, f"a{n}", f"reply {n}")})
            await agent_ws.wait_for(of_type("ack", client_msg_id=f"a{n}"))

        # Connected: the client sees messages 1 to 4, then drops without a word.
        first = SioClient(transports)
        await first.connect(server, {"token": token})
        resumed = await first.call("resume", {"session_id": sid, "after_seq": 0})
        assert resumed == {"type": "resumed", "session_id": sid, "last_seq": 1}
        for n in range(3):
            await agent_says(n)
        await first.wait_for(message_seq(sid, 4))
        seen = max(m["seq"] for m in first.messages(sid))
        await first.sio.eio.disconnect(abort=True)

        # Away: the agent writes five more.
        for n in range(3, 8):
            await agent_says(n)

        # Back: the resume callback comes after exactly the missed messages.
        async with sio_connect(server, token, transports) as again:
            resumed = await again.call("resume", {"session_id": sid, "after_seq": seen})
            assert resumed == {"type": "resumed", "session_id": sid, "last_seq": 9}
            got = again.messages(sid)
            assert [m["seq"] for m in got] == [5, 6, 7, 8, 9]
            assert [m["text"] for m in got] == [f"reply {n}" for n in range(3, 8)]
            await again.wait_for(of_type("resumed", session_id=sid))
    await agent.close()
    await customer.close()


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
async def test_bad_events_get_the_websocket_error_codes(
    server: Server, transports: list[str]
) -> None:
    """Each bad event or payload gets the /v1/ws error code and changes nothing."""
    customer = Api(server, customer_token("sio-sloppy"))
    sid = (await customer.contact("hello"))["id"]
    cases: list[tuple[str, Any, str]] = [
        ("dance", {}, "unknown_frame_type"),
        ("send", "a string", "invalid_request"),
        ("send", ({"session_id": sid}, {"text": "x"}), "invalid_request"),
        ("send", {"session_id": sid}, "invalid_request"),
        ("send", _send(sid, "x", ""), "invalid_request"),
        ("send", _send(sid, "x", "y" * 2001), "invalid_request"),
        ("resume", {"session_id": sid, "after_seq": -1}, "invalid_request"),
        ("read", {"session_id": sid, "seq": 99}, "invalid_request"),
        ("typing", {"session_id": "x" * 200}, "invalid_request"),
        ("send", _send("nope", "y", "a"), "not_found"),
        ("resume", {"session_id": "nope", "after_seq": 0}, "not_found"),
        ("send", b"\x00\x01binary", "binary_frame"),
    ]
    async with sio_connect(server, customer.token or "", transports) as sio:
        for event, data, code in cases:
            start = len(sio.frames)
            answer = await sio.call(event, data)
            assert answer["type"] == "error", (event, data)
            assert answer["code"] == code, (event, data)
            # The same error also arrives as an event, as on /v1/ws.
            error = await sio.wait_for(of_type("error"), start=start)
            assert error == answer
        assert await sio.call("ping") == {"type": "pong"}
    assert len(await customer.history(sid)) == 1
    await customer.close()


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
async def test_unauthenticated_connection_is_refused(
    server: Server, transports: list[str]
) -> None:
    """No token, a bad token or a malformed auth payload refuses the connection."""
    for auth in (None, {"token": "garbage"}, {"token": 5}, "just a string"):
        client = SioClient(transports)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server, auth)
        assert client.refusal["data"]["code"] == "unauthorized", auth
        assert client.refusal["message"], auth
        assert client.frames == []
        await client.sio.disconnect()
