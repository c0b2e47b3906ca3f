"""Lean loopback clients for the load generator: HTTP/1.1 and WebSocket.

Both speak the wire protocol directly over asyncio streams, so that the
generator spends as little CPU per request as Python allows and is not the
bottleneck of what it measures.  They know only what the benchmarks send:
requests built ahead of time, responses with a ``Content-Length``, and
unfragmented or fragmented text frames without extensions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import struct
from collections.abc import Callable

from kefu.simulator.bench.load import Recorder

logger = logging.getLogger(__name__)

#: How long (seconds) opening a connection and its handshake may take.
CONNECT_TIMEOUT_S = 30.0

_OP_CONTINUATION = 0x0
_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA


# -- HTTP ----------------------------------------------------------------------


def http_request(
    method: str, path: str, port: int, body: bytes, headers: dict[str, str]
) -> bytes:
    """One HTTP/1.1 keep-alive request, encoded ahead of time."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; its status and whether the server will close."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    length = 0
    if at >= 0:
        end = lowered.index(b"\r\n", at + 2)
        length = int(lowered[at + 17 : end])
    if length:
        await reader.readexactly(length)
    return status, b"\r\nconnection: close" in lowered


class HttpPool:
    """Keep-alive connections, each sending the next request as soon as free.

    Scheduled requests wait in one queue; time spent there is part of their
    latency, since it is counted from the intended send time.
    """

    def __init__(
        self, port: int, size: int, request_for: Callable[[int], bytes]
    ) -> None:
        self.port = port
        self.size = size
        self.request_for = request_for
        self._queue: asyncio.Queue[tuple[int, Recorder]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        """Open every connection before the first step."""
        streams = await asyncio.gather(*(self._open() for _ in range(self.size)))
        self._workers = [
            asyncio.create_task(self._work(*pair), name="bench-http")
            for pair in streams
        ]

    def issue(self, index: int, recorder: Recorder) -> None:
        """Queue request ``index`` for the next free connection."""
        self._queue.put_nowait((index, recorder))

    async def settle(self, timeout_s: float) -> None:
        """Drop requests not yet sent; wait (bounded) for those in flight."""
        while not self._queue.empty():
            self._queue.get_nowait()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()

    async def stop(self) -> None:
        """Stop every connection's task."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            return await asyncio.open_connection("127.0.0.1", self.port)

    async def _work(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # One request at a time on this connection; reopen it when it breaks.
        while True:
            index, recorder = await self._queue.get()
            self._busy += 1
            self._idle.clear()
            try:
                recorder.mark_sent(index)
                writer.write(self.request_for(index))
                status, closing = await read_response(reader)
                recorder.mark_done(index, 200 <= status < 300, str(status))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                recorder.mark_done(index, False, type(exc).__name__)
                closing = True
            finally:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()
            if closing:
                writer.close()
                reader, writer = await self._open()


# -- WebSocket -----------------------------------------------------------------


class WsClient:
    """A WebSocket client that hands every text frame to ``on_text``.

    Client frames are masked with an all-zero key: a valid key that leaves
    the payload as it is, so the generator does no XOR work.  The server's
    unmasking costs the same whatever the key.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_text: Callable[[bytes], None],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.on_text = on_text
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._task = asyncio.create_task(self._read_loop(), name="bench-ws")

    @classmethod
    async def connect(
        cls, port: int, path: str, on_text: Callable[[bytes], None]
    ) -> WsClient:
        """Open a connection and complete the opening handshake."""
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"101":
            writer.close()
            raise ConnectionError(f"handshake refused: {head[:12]!r}")
        return cls(reader, writer, on_text)

    def send_text(self, payload: bytes) -> None:
        """Queue one text frame (never blocks)."""
        self._writer.write(_frame(_OP_TEXT, payload))

    async def close(self) -> None:
        """Send a close frame and wait (bounded) for the reader to stop."""
        if not self._writer.is_closing():
            self._writer.write(_frame(_OP_CLOSE, struct.pack("!H", 1000)))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self.closed.wait()
        self._task.cancel()
        self._writer.close()

    def abort(self) -> None:
        """Drop the connection at once, without a closing handshake."""
        self._task.cancel()
        self._writer.close()

    async def _read_loop(self) -> None:
        # Text goes to the callback; pings are answered; a close ends the loop.
        buffered: list[bytes] = []
        try:
            while True:
                fin, opcode, payload = await self._read_frame()
                if opcode == _OP_PING:
                    self._writer.write(_frame(_OP_PONG, payload))
                elif opcode == _OP_CLOSE:
                    if len(payload) >= 2:
                        self.close_code = struct.unpack("!H", payload[:2])[0]
                    return
                elif opcode in (_OP_TEXT, _OP_BINARY, _OP_CONTINUATION):
                    buffered.append(payload)
                    if fin:
                        self.on_text(b"".join(buffered))
                        buffered.clear()
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            self.closed.set()

    async def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = await self._reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self._reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self._reader.readexactly(8))
        mask = await self._reader.readexactly(4) if second & 0x80 else b""
        payload = await self._reader.readexactly(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload


def _frame(opcode: int, payload: bytes) -> bytes:
    # FIN set, masked with the all-zero key (see the class docstring).
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + b"\0\0\0\0" + payload
