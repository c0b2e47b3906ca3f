"""Client frames: parsing, validation and dispatch, whatever the transport.

A transport hands each text frame it receives to :meth:`FrameHandler.handle`
(or, when its framing has already decoded the frame, to
:meth:`FrameHandler.dispatch`) together with the connection it came on.
Replies and errors go back through the connection's own bounded send buffer,
so a misbehaving client only ever affects itself.  Both also return the frame
that answers the client's frame directly (``ack``, ``error`` or ``pong``), for
transports that acknowledge a frame in their own way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from opentelemetry import trace

from kefu.access.admission import LIVE, Admission
from kefu.errors import InvalidRequest, KefuError, RateLimited
from kefu.observability.metrics import Metrics
from kefu.sessions import frames
from kefu.sessions.engine import SessionEngine
from kefu.sessions.fanout import Connection
from kefu.sessions.model import MAX_SEQ

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("kefu")

_MAX_ID = 128
_PONG = b'{"type":"pong"}'


class TokenBucket:
    """Allows ``rate`` events per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self._clock = rate, float(burst), clock
        self._tokens, self._at = float(burst), clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self) -> bool:
        self._refill()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def wait_s(self) -> float:
        """Seconds until the next event would be allowed."""
        return max(0.0, (1.0 - self._tokens) / self.rate)

    def is_full(self) -> bool:
        """Whether the bucket has refilled completely (it remembers nothing)."""
        self._refill()
        return self._tokens >= self.burst


class PerKeyLimit:
    """A token bucket per key (a customer, an address), kept in bounded memory.

    Buckets that have refilled completely carry no information and are the
    first to go when the table is full.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        message: str,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate, self.burst, self.message = rate, burst, message
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, key: str) -> None:
        """Count one event for ``key``; :class:`RateLimited` if over the limit."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune()
            bucket = self._buckets[key] = TokenBucket(
                self.rate, self.burst, self._clock
            )
        if not bucket.take():
            raise RateLimited(self.message, retry_after_s=max(1.0, bucket.wait_s()))

    def _prune(self) -> None:
        # Forget refilled buckets; if none, the oldest tenth.
        full = [key for key, bucket in self._buckets.items() if bucket.is_full()]
        for key in full or list(self._buckets)[: self._max_keys // 10]:
            del self._buckets[key]


class LoginLimits:
    """Login attempts: 5 a minute per agent id, 20 a minute per address."""

    def __init__(self, per_agent: int = 5, per_address: int = 20) -> None:
        message = "too many login attempts; wait a minute"
        self._agents = PerKeyLimit(per_agent / 60.0, per_agent, message)
        self._addresses = PerKeyLimit(per_address / 60.0, per_address, message)

    def check(self, agent_id: str, address: str) -> None:
        self._addresses.check(address)
        self._agents.check(agent_id)


class FrameHandler:
    """Dispatches one connection's frames to the session engine."""

    def __init__(
        self,
        engine: SessionEngine,
        metrics: Metrics,
        max_text_chars: int,
        transport: str = "ws",
        admission: Admission | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.max_text_chars = max_text_chars
        self.transport = transport
        self.admission = admission or Admission(None)
        self._handlers: dict[
            str, Callable[[Connection, dict[str, Any]], Awaitable[bytes | None]]
        ] = {
            "send": self._send,
            "resume": self._resume,
            "read": self._read,
            "typing": self._typing,
            "verify": self._verify,
            "ping": self._ping,
        }

    async def handle(self, conn: Connection, raw: str | bytes) -> bytes | None:
        """Parse and act on one frame; any client error becomes an error frame.

        Returns the frame sent in direct answer (``ack``, ``error``, ``pong``),
        or None when the frame has no direct answer.
        """
        try:
            frame = _parse(raw)
        except KefuError as exc:
            return self.reject(conn, exc)
        return await self.dispatch(conn, frame)

    async def dispatch(self, conn: Connection, frame: dict[str, Any]) -> bytes | None:
        """Act on one decoded frame whose ``type`` is a string; as :meth:`handle`."""
        try:
            handler = self._handlers.get(frame["type"])
            if handler is None:
                raise UnknownFrame(f"unknown frame type {frame['type']!r}"[:120])
            if frame["type"] == "ping":
                return await handler(conn, frame)
            # Frames of live sessions take the limiter's highest partition.
            with tracer.start_as_current_span(
                f"kefu.frame.{frame['type']}",
                attributes={"kefu.transport": self.transport},
            ):
                async with self.admission.admit(LIVE):
                    return await handler(conn, frame)
        except KefuError as exc:
            return self.reject(conn, exc, frame)

    def reject(
        self, conn: Connection, exc: KefuError, frame: dict[str, Any] | None = None
    ) -> bytes:
        """Answer a frame with an error frame naming what it was about."""
        self.metrics.frames_rejected.labels(exc.code).inc()
        about = frame or {}
        error: dict[str, Any] = {
            "type": "error",
            "code": exc.code,
            "message": exc.message,
        }
        for key in ("client_msg_id", "session_id"):
            if isinstance(about.get(key), str):
                error[key] = about[key]
        if exc.retry_after_s is not None:
            error["retry_after_s"] = exc.retry_after_s
        encoded = frames.encode(error)
        conn.send(encoded)
        return encoded

    # -- frame types --------------------------------------------------------

    async def _send(self, conn: Connection, frame: dict[str, Any]) -> bytes:
        started = time.perf_counter()
        session_id = _string(frame, "session_id")
        client_msg_id = _string(frame, "client_msg_id")
        text = _text(frame, self.max_text_chars)
        message, _ = await self.engine.post_message(
            conn.principal, session_id, text, client_msg_id
        )
        ack = frames.ack_frame(client_msg_id, session_id, message.seq)
        conn.send(ack)
        self.metrics.message_latency.labels(self.transport).observe(
            time.perf_counter() - started
        )
        return ack

    async def _resume(self, conn: Connection, frame: dict[str, Any]) -> None:
        # The engine sends the messages and then ``resumed`` itself.
        session_id = _string(frame, "session_id")
        after_seq = _integer(frame, "after_seq", minimum=0)
        await self.engine.resume(conn, session_id, after_seq)

    async def _read(self, conn: Connection, frame: dict[str, Any]) -> None:
        session_id = _string(frame, "session_id")
        seq = _integer(frame, "seq", minimum=1)
        await self.engine.mark_read(conn.principal, session_id, seq)

    async def _typing(self, conn: Connection, frame: dict[str, Any]) -> None:
        await self.engine.typing(conn.principal, _string(frame, "session_id"))

    async def _verify(self, conn: Connection, frame: dict[str, Any]) -> None:
        # Success needs no direct answer: every device of both participants
        # gets the session frame with the new verification state.
        session_id = _string(frame, "session_id")
        code = frame.get("code")
        if not isinstance(code, str) or not (len(code) == 6 and code.isdigit()):
            raise InvalidRequest("'code' must be the 6 digits received by SMS")
        await self.engine.verify(conn.principal, session_id, code)

    async def _ping(self, conn: Connection, frame: dict[str, Any]) -> bytes:
        conn.send(_PONG)
        return _PONG


class UnknownFrame(InvalidRequest):
    """The frame's ``type`` is not one kefu knows."""

    code = "unknown_frame_type"


class FrameRateLimited(RateLimited):
    """The connection sent frames faster than its limit."""


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the frame is not valid JSON") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise InvalidRequest("a frame is a JSON object with a string 'type'")
    return frame


def _string(frame: dict[str, Any], key: str) -> str:
    value = frame.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID:
        raise InvalidRequest(f"'{key}' must be a string of 1 to {_MAX_ID} characters")
    return value


def _integer(frame: dict[str, Any], key: str, minimum: int) -> int:
    value = frame.get(key)
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not minimum <= value <= MAX_SEQ
    ):
        raise InvalidRequest(f"'{key}' must be an integer from {minimum} to {MAX_SEQ}")
    return value


def _text(frame: dict[str, Any], max_chars: int) -> str:
    value = frame.get("text")
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise InvalidRequest(f"'text' must be 1 to {max_chars} characters, not blank")
    return value
