"""The Socket.IO transport, mounted at ``/socket.io/``.

For clients behind networks that break plain WebSockets: Socket.IO falls back
to HTTP long-polling.  The events are the frames of ``/v1/ws``.  A client event
is named after a frame type and carries that frame's fields; every frame kefu
sends is emitted as an event named after its ``type``, with the frame itself as
the payload.  Client events go to the same :class:`FrameHandler` as ``/v1/ws``
frames, and the session engine sees one more :class:`Connection`.

Authentication is the ``auth`` payload of the connection, ``{"token": ...}``;
without a valid token the connection is refused.  A client event sent with an
acknowledgement callback gets the frame that answers it directly: ``ack`` (or
``error``) for ``send``, ``resumed`` (or ``error``) for ``resume``, ``pong`` for
``ping``.  The same frames also arrive as events, exactly as on ``/v1/ws``, and
the callback runs only after every event the client frame caused.

Per-connection limits are those of ``/v1/ws``: the frame rate with the same
flood cut-off, the frame size (Engine.IO's ``max_http_buffer_size`` for a
long-poll body, uvicorn's limit for a WebSocket message) and the bounded send
buffer.  Engine.IO queues outgoing packets without bound, so the send buffer
counts the packets Engine.IO still holds for the client as well as kefu's own.

Multi-node: ``client_manager`` takes a Socket.IO client manager, such as
``socketio.AsyncRedisManager(redis_url)``, for emits that must reach clients
connected to other nodes.  kefu does not need one yet: the session engine
delivers through this process's fan-out to the connections it holds.
Long-polling clients need sticky sessions at the load balancer either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import socketio  # type: ignore[import-untyped]
from socketio.exceptions import (  # type: ignore[import-untyped]
    ConnectionRefusedError as Refused,
)
from starlette.types import ASGIApp

from kefu.access.admission import Admission
from kefu.access.auth import Authenticator
from kefu.access.protocol import FrameHandler, FrameRateLimited, TokenBucket
from kefu.access.ws import BinaryFrame
from kefu.config import Limits
from kefu.errors import InvalidRequest, KefuError
from kefu.observability.metrics import Metrics
from kefu.sessions import frames
from kefu.sessions.engine import SessionEngine
from kefu.sessions.model import Principal

logger = logging.getLogger(__name__)

#: The path Socket.IO clients connect to (their default).
SOCKETIO_PATH = "socket.io"

#: A connection that keeps flooding after this many rejected frames is closed.
_FLOOD_REJECTIONS = 200

#: An item of the send buffer: a frame, a flush marker, or the close marker.
_Item = bytes | asyncio.Future[None] | None


class SioConnection:
    """One authenticated Socket.IO client, with its bounded send buffer."""

    def __init__(
        self,
        server: Any,
        sid: str,
        principal: Principal,
        buffer_frames: int,
        metrics: Metrics,
    ) -> None:
        self.sid = sid
        self._server = server
        self._eio_sid: str | None = server.manager.eio_sid_from_sid(sid, "/")
        self._principal = principal
        self._metrics = metrics
        self._limit = buffer_frames
        self._buffer: asyncio.Queue[_Item] = asyncio.Queue(buffer_frames)
        self._writer: asyncio.Task[None] | None = None
        self._resumed: dict[str, dict[str, Any]] = {}
        self._client_gone = False
        #: Why kefu closed the connection, once it has.
        self.close_reason: str | None = None
        #: Set once the engine has been told of the connection.
        self.registered = asyncio.Event()

    @property
    def principal(self) -> Principal:
        return self._principal

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="kefu-sio-writer")

    def send(self, frame: bytes) -> None:
        if self.close_reason is not None:
            return
        if self._backlog() >= self._limit:
            self._buffer_full()
            return
        self._buffer.put_nowait(frame)

    async def flushed(self) -> None:
        """Wait until every frame sent so far has been handed to Socket.IO."""
        if self.close_reason is not None:
            return
        marker = asyncio.get_running_loop().create_future()
        try:
            self._buffer.put_nowait(marker)
        except asyncio.QueueFull:
            self._buffer_full()
            return
        await marker

    def take_resumed(self, session_id: str) -> dict[str, Any] | None:
        """The ``resumed`` frame last emitted for ``session_id``, forgotten now."""
        return self._resumed.pop(session_id, None)

    def close(self, reason: str) -> None:
        """Disconnect after the frames already buffered (the writer does it)."""
        if self.close_reason is not None:
            return
        self.close_reason = reason
        # Make room for the close marker even if the buffer is full.
        if self._buffer.full():
            self._drop_buffered()
        self._buffer.put_nowait(None)

    def abandon(self) -> None:
        """The client has gone: drop what is buffered and stop the writer."""
        self._client_gone = True
        self._drop_buffered()
        if self.close_reason is None:
            self.close_reason = "client_gone"
            self._buffer.put_nowait(None)

    async def finished(self, timeout_s: float) -> None:
        """Wait (bounded) for the writer to flush and disconnect the client."""
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._writer), timeout_s)

    async def end_session(self) -> None:
        """Close the client's Engine.IO session, waking any pending long-poll.

        kefu uses one namespace, so the session has no use once the connection
        has ended; Engine.IO frees it within one ping timeout.
        """
        await _close_eio(self._server, self._eio_sid)

    def client_present(self) -> bool:
        """Whether the client's Engine.IO session is still open."""
        return self._eio_sid in self._server.eio.sockets

    def _backlog(self) -> int:
        # Frames kefu holds plus the packets Engine.IO still holds for the
        # client (its ``sockets`` table and per-socket ``queue``).
        socket = self._server.eio.sockets.get(self._eio_sid)
        held: int = socket.queue.qsize() if socket is not None else 0
        return self._buffer.qsize() + held

    def _buffer_full(self) -> None:
        self._metrics.disconnects.labels("send_buffer_full").inc()
        logger.info(
            "closing connection: send buffer full",
            extra={"role": self._principal.role.value, "transport": "socketio"},
        )
        self.close("send_buffer_full")

    def _drop_buffered(self) -> None:
        # Frames are dropped; flush markers are released, not left waiting.
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                item = self._buffer.get_nowait()
                if isinstance(item, asyncio.Future) and not item.done():
                    item.set_result(None)

    async def _write_loop(self) -> None:
        # Emit in order until the close marker, then disconnect the client.
        try:
            while (item := await self._buffer.get()) is not None:
                if isinstance(item, asyncio.Future):
                    if not item.done():
                        item.set_result(None)
                    continue
                await self._emit(item)
        except Exception:
            logger.exception("socket.io writer failed")
            self.close_reason = self.close_reason or "error"
        finally:
            self._drop_buffered()
        if not self._client_gone:
            await self._server.disconnect(self.sid)

    async def _emit(self, frame: bytes) -> None:
        payload = orjson.loads(frame)
        event = payload["type"]
        if event == "resumed":
            self._resumed[payload["session_id"]] = payload
        await self._server.emit(event, payload, to=self.sid)


class SocketIoEndpoint:
    """Serves ``/socket.io/``: authenticate on connect, then handle events."""

    def __init__(
        self,
        engine: SessionEngine,
        auth: Authenticator,
        limits: Limits,
        metrics: Metrics,
        *,
        client_manager: Any = None,
        admission: Admission | None = None,
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.limits = limits
        self.metrics = metrics
        self.handler = FrameHandler(
            engine,
            metrics,
            limits.max_text_chars,
            transport="socketio",
            admission=admission,
        )
        self.connections: dict[str, SioConnection] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._rejected: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.server = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=client_manager,
            # One client's events are handled one at a time, in order, as the
            # frames of one WebSocket are.
            async_handlers=False,
            max_http_buffer_size=limits.max_frame_bytes,
            # Tokens travel in the auth payload, never in cookies, so any page
            # may connect (as any page may open /v1/ws).
            cors_allowed_origins="*",
        )
        self.server.on("connect", self._connect)
        self.server.on("disconnect", self._disconnect)
        self.server.on("*", self._event)

    def asgi_app(self, other: ASGIApp) -> ASGIApp:
        """``other`` with Socket.IO answering under ``/socket.io/``."""
        app: ASGIApp = socketio.ASGIApp(
            self.server, other_asgi_app=other, socketio_path=SOCKETIO_PATH
        )
        return app

    async def close_all(self, timeout_s: float = 2.0) -> None:
        """Disconnect every client after its buffered frames, waiting (bounded)."""
        conns = list(self.connections.values())
        for conn in conns:
            conn.close("going_away")
        await asyncio.gather(*(conn.finished(timeout_s) for conn in conns))
        # Sessions that never connected would hold their long-polls open.
        for eio_sid in list(self.server.eio.sockets):
            await _close_eio(self.server, eio_sid)

    # -- connection events -------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        # Refuse unless the auth payload carries a valid token.
        try:
            principal = self._authenticate(auth)
        except Refused:
            self._close_after_refusal(sid)
            raise
        conn = SioConnection(
            self.server, sid, principal, self.limits.send_buffer_frames, self.metrics
        )
        conn.send(
            frames.encode(
                {
                    "type": "authenticated",
                    "role": principal.role.value,
                    "id": principal.id,
                }
            )
        )
        self.connections[sid] = conn
        self._buckets[sid] = TokenBucket(
            self.limits.frames_per_s,
            self.limits.frames_burst,
            asyncio.get_running_loop().time,
        )
        self.metrics.connections.labels(principal.role.value).inc()

        # Register with the engine (which sends the open sessions).
        try:
            await self.engine.connected(conn)
        except KefuError as exc:
            await self._forget(sid, end_session=False)
            self._close_after_refusal(sid)
            raise Refused(exc.message, _error_payload(exc)) from None
        finally:
            conn.registered.set()

        # Socket.IO does not report a client that left during the connect.
        if not conn.client_present():
            await self._forget(sid)
            return

        # The writer starts last, with no await after it, so that Socket.IO
        # answers the connect before the first event goes out.
        conn.start()

    async def _disconnect(self, sid: str, reason: str | None = None) -> None:
        conn = self.connections.get(sid)
        if conn is None:
            return
        await conn.registered.wait()
        await self._forget(sid)

    async def _forget(self, sid: str, end_session: bool = True) -> None:
        conn = self.connections.pop(sid, None)
        if conn is None:
            return
        self._buckets.pop(sid, None)
        self._rejected.pop(sid, None)
        self.metrics.connections.labels(conn.principal.role.value).dec()
        conn.abandon()
        await self.engine.disconnected(conn)
        if end_session:
            await conn.end_session()

    def _close_after_refusal(self, sid: str) -> None:
        # Socket.IO queues its refusal before it next yields; this task runs
        # after that, so the client reads the refusal, then the close.
        eio_sid = self.server.manager.eio_sid_from_sid(sid, "/")
        task = asyncio.create_task(_close_eio(self.server, eio_sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _authenticate(self, auth: Any) -> Principal:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            if not isinstance(token, str):
                raise InvalidRequest("the auth payload must be {token}")
            return self.auth.authenticate(token)
        except KefuError as exc:
            error = {"type": "error", "code": "unauthorized", "message": exc.message}
            raise Refused(exc.message, error) from None

    # -- client events -----------------------------------------------------

    async def _event(self, event: str, sid: str, *args: Any) -> Any:
        """Handle one client event; the return value answers its callback."""
        conn = self.connections.get(sid)
        if conn is None or conn.close_reason is not None:
            return None
        reply = await self._handle(conn, event, args)

        # Answer the callback only after every event this one caused.
        await conn.flushed()
        if reply is not None:
            return orjson.loads(reply)
        if event == "resume" and args and isinstance(args[0], dict):
            session_id = args[0].get("session_id")
            if isinstance(session_id, str):
                return conn.take_resumed(session_id)
        return None

    async def _handle(
        self, conn: SioConnection, event: str, args: tuple[Any, ...]
    ) -> bytes | None:
        # Per-connection limits first, then the shared frame handler.
        error = self._event_problem(conn.sid, args)
        if error is not None:
            return self._refuse(conn, error)
        data = args[0] if args else {}
        return await self.handler.dispatch(conn, {**data, "type": event})

    def _event_problem(self, sid: str, args: tuple[Any, ...]) -> KefuError | None:
        if not self._buckets[sid].take():
            return FrameRateLimited("too many frames; slow down", retry_after_s=1.0)
        if len(args) > 1 or (args and not isinstance(args[0], dict)):
            if args and isinstance(args[0], bytes | bytearray):
                return BinaryFrame("binary payloads are not accepted; send JSON")
            return InvalidRequest("an event carries one JSON object (or nothing)")
        return None

    def _refuse(self, conn: SioConnection, error: KefuError) -> bytes:
        reply = self.handler.reject(conn, error)
        rejected = self._rejected.get(conn.sid, 0) + 1
        self._rejected[conn.sid] = rejected
        if rejected > _FLOOD_REJECTIONS:
            self.metrics.disconnects.labels("flood").inc()
            conn.close("flood")
        return reply


async def _close_eio(server: Any, eio_sid: str | None) -> None:
    # Through Engine.IO's socket table: its own disconnect() waits for the
    # client to read everything queued, which a slow client never does.
    socket = server.eio.sockets.get(eio_sid)
    if socket is not None:
        await socket.close(wait=False)


def _error_payload(exc: KefuError) -> dict[str, Any]:
    return {"type": "error", "code": exc.code, "message": exc.message}
