"""The Socket.IO connection's send buffer, against a stand-in server: no network."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from kefu.access.socket_io import SioConnection
from kefu.observability.metrics import Metrics
from kefu.sessions import frames
from kefu.sessions.model import Principal, Role


class FakeServer:
    """Socket.IO as the connection sees it; its one client never reads."""

    def __init__(self) -> None:
        self.manager = SimpleNamespace(eio_sid_from_sid=lambda sid, ns: "eio-1")
        self.held: asyncio.Queue[Any] = asyncio.Queue()
        self.eio = SimpleNamespace(sockets={"eio-1": SimpleNamespace(queue=self.held)})
        self.emitted: list[tuple[str, dict[str, Any]]] = []
        self.disconnected = asyncio.Event()

    async def emit(self, event: str, payload: dict[str, Any], to: str) -> None:
        self.emitted.append((event, payload))
        self.held.put_nowait(payload)

    async def disconnect(self, sid: str) -> None:
        self.disconnected.set()


def _connection(server: FakeServer, metrics: Metrics, buffer_frames: int) -> Any:
    customer = Principal(Role.CUSTOMER, "c-1")
    conn = SioConnection(server, "sid-1", customer, buffer_frames, metrics)
    conn.start()
    return conn


async def test_client_that_stops_reading_is_disconnected_not_buffered() -> None:
    """Frames Socket.IO still holds count toward the buffer; overflow disconnects."""
    server, metrics = FakeServer(), Metrics()
    conn = _connection(server, metrics, buffer_frames=10)
    for n in range(10):
        conn.send(frames.typing_frame(f"s-{n}", "agent", "a-1"))
        await conn.flushed()
    assert server.held.qsize() == 10

    # One more is one too many: the client is cut off and nothing more is held.
    conn.send(frames.typing_frame("s-10", "agent", "a-1"))
    async with asyncio.timeout(5):
        await server.disconnected.wait()
    conn.send(frames.typing_frame("s-11", "agent", "a-1"))
    assert server.held.qsize() == 10
    assert conn.close_reason == "send_buffer_full"
    reason = {"reason": "send_buffer_full"}
    assert metrics.registry.get_sample_value("kefu_ws_disconnects_total", reason) == 1


async def test_flush_comes_after_earlier_frames_and_keeps_resumed() -> None:
    """flushed() returns once earlier frames are emitted, in order, resumed kept."""
    server, metrics = FakeServer(), Metrics()
    conn = _connection(server, metrics, buffer_frames=10)
    conn.send(frames.typing_frame("s-1", "agent", "a-1"))
    conn.send(frames.resumed_frame("s-1", 7))
    await conn.flushed()
    assert [event for event, _ in server.emitted] == ["typing", "resumed"]
    assert conn.take_resumed("s-1") == {
        "type": "resumed",
        "session_id": "s-1",
        "last_seq": 7,
    }
    assert conn.take_resumed("s-1") is None
    conn.abandon()
    await conn.finished(timeout_s=5)
    assert not server.disconnected.is_set()
