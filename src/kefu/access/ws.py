"""The plain WebSocket transport, ``GET /v1/ws``.

The first frame must be ``{"type": "auth", "token": ...}`` within the auth
timeout.  After that, frames go to the shared :class:`FrameHandler`.  Each
connection writes through a bounded buffer drained by its own task: a client
that stops reading is cut off when the buffer fills, and never grows memory.

Close codes kefu uses (see ``docs/api.md``): 1001 server going away, 1008
frame flood, 1009 frame too large (uvicorn), 1013 send buffer full,
4401 authentication failed, 4408 no authentication in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import MutableMapping
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from kefu.access.admission import Admission
from kefu.access.auth import Authenticator
from kefu.access.protocol import FrameHandler, FrameRateLimited, TokenBucket
from kefu.config import Limits
from kefu.errors import InvalidRequest, KefuError, PayloadTooLarge
from kefu.observability.metrics import Metrics
from kefu.sessions import frames
from kefu.sessions.engine import SessionEngine
from kefu.sessions.model import Principal

logger = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
CLOSE_FLOOD = 1008
CLOSE_BUFFER_FULL = 1013
CLOSE_AUTH_FAILED = 4401
CLOSE_AUTH_TIMEOUT = 4408

#: A connection that keeps flooding after this many rejected frames is closed.
_FLOOD_REJECTIONS = 200


class WsConnection:
    """One authenticated WebSocket, with its bounded send buffer."""

    def __init__(
        self, ws: WebSocket, principal: Principal, buffer_frames: int, metrics: Metrics
    ) -> None:
        self.ws = ws
        self._principal = principal
        self._metrics = metrics
        self._buffer: asyncio.Queue[bytes | None] = asyncio.Queue(buffer_frames)
        self._writer: asyncio.Task[None] | None = None
        self.close_code: int | None = None

    @property
    def principal(self) -> Principal:
        return self._principal

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name="kefu-ws-writer")

    def send(self, frame: bytes) -> None:
        if self.close_code is not None:
            return
        try:
            self._buffer.put_nowait(frame)
        except asyncio.QueueFull:
            self._metrics.disconnects.labels("send_buffer_full").inc()
            logger.info(
                "closing connection: send buffer full",
                extra={"role": self._principal.role.value},
            )
            self.close(CLOSE_BUFFER_FULL)

    def close(self, code: int) -> None:
        """Close after the frames already buffered (the writer sends the close)."""
        if self.close_code is not None:
            return
        self.close_code = code
        # Make room for the close marker even if the buffer is full.
        if self._buffer.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    self._buffer.get_nowait()
        self._buffer.put_nowait(None)

    async def finished(self, timeout_s: float) -> None:
        """Wait (bounded) for the writer to flush and send its close frame."""
        if self._writer is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._writer), timeout_s)

    async def _write_loop(self) -> None:
        try:
            while True:
                frame = await self._buffer.get()
                if frame is None:
                    break
                await self.ws.send({"type": "websocket.send", "text": frame.decode()})
            await self.ws.close(self.close_code or CLOSE_GOING_AWAY)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client is gone; the reader notices too


class WebSocketEndpoint:
    """Serves ``/v1/ws``: authenticate, then read frames until the client leaves."""

    def __init__(
        self,
        engine: SessionEngine,
        auth: Authenticator,
        limits: Limits,
        metrics: Metrics,
        admission: Admission | None = None,
    ) -> None:
        self.engine = engine
        self.auth = auth
        self.limits = limits
        self.metrics = metrics
        self.handler = FrameHandler(
            engine, metrics, limits.max_text_chars, admission=admission
        )
        self.connections: set[WsConnection] = set()

    async def __call__(self, ws: WebSocket) -> None:
        await ws.accept()
        principal = await self._authenticate(ws)
        if principal is None:
            return
        conn = WsConnection(ws, principal, self.limits.send_buffer_frames, self.metrics)
        conn.start()
        conn.send(
            frames.encode(
                {
                    "type": "authenticated",
                    "role": principal.role.value,
                    "id": principal.id,
                }
            )
        )
        self.connections.add(conn)
        gauge = self.metrics.connections.labels(principal.role.value)
        gauge.inc()
        try:
            await self.engine.connected(conn)
            await self._read_loop(ws, conn)
        finally:
            gauge.dec()
            self.connections.discard(conn)
            await self.engine.disconnected(conn)
            conn.close(conn.close_code or CLOSE_GOING_AWAY)
            await conn.finished(timeout_s=2.0)

    async def close_all(self, code: int, timeout_s: float = 2.0) -> None:
        """Close every connection with ``code`` and wait for the close frames."""
        conns = list(self.connections)
        for conn in conns:
            conn.close(code)
        await asyncio.gather(*(conn.finished(timeout_s) for conn in conns))

    async def _authenticate(self, ws: WebSocket) -> Principal | None:
        # The token travels in the first frame, never in the URL.
        try:
            async with asyncio.timeout(self.limits.auth_timeout_s):
                message = await ws.receive()
        except TimeoutError:
            await _close(ws, CLOSE_AUTH_TIMEOUT, "authentication timed out")
            return None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            frame = orjson.loads(message.get("text") or b"")
            if (
                not isinstance(frame, dict)
                or frame.get("type") != "auth"
                or not (isinstance(frame.get("token"), str))
            ):
                raise InvalidRequest("the first frame must be {type: auth, token}")
            return self.auth.authenticate(frame["token"])
        except (orjson.JSONDecodeError, KefuError) as exc:
            reason = exc.message if isinstance(exc, KefuError) else "invalid JSON"
            await ws.send_text(frames.error_frame("unauthorized", reason).decode())
            await _close(ws, CLOSE_AUTH_FAILED, "authentication failed")
            return None

    async def _read_loop(self, ws: WebSocket, conn: WsConnection) -> None:
        bucket = TokenBucket(
            self.limits.frames_per_s,
            self.limits.frames_burst,
            asyncio.get_running_loop().time,
        )
        rejected = 0
        while conn.close_code is None:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            # Per-connection limits first: rate, then kind and size of frame.
            error = _frame_problem(message, bucket, self.limits.max_frame_bytes)
            if error is not None:
                rejected += 1
                self.handler.reject(conn, error)
                if rejected > _FLOOD_REJECTIONS:
                    self.metrics.disconnects.labels("flood").inc()
                    conn.close(CLOSE_FLOOD)
                continue
            await self.handler.handle(conn, message["text"])


def _frame_problem(
    message: MutableMapping[str, Any], bucket: TokenBucket, max_bytes: int
) -> KefuError | None:
    if not bucket.take():
        return FrameRateLimited("too many frames; slow down", retry_after_s=1.0)
    text = message.get("text")
    if text is None:
        return BinaryFrame("binary frames are not accepted; send JSON text frames")
    if len(text) > max_bytes:
        return PayloadTooLarge(f"frames are limited to {max_bytes} bytes")
    return None


class BinaryFrame(InvalidRequest):
    """A binary WebSocket frame; kefu speaks JSON text frames only."""

    code = "binary_frame"


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await ws.close(code, reason)
