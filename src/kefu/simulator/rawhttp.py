"""A lean keep-alive HTTP/1.1 client for loopback load, with whole responses.

The simulator's overload scenario sends hundreds of requests a second from
one process; a general-purpose client spends more CPU per request than the
server it measures.  This one speaks just enough HTTP/1.1 (requests with a
body, responses with ``Content-Length``) over a bounded set of connections.
"""

from __future__ import annotations

import asyncio
import contextlib

#: A response: status, headers (lowercased names) and body.
Response = tuple[int, dict[str, str], bytes]
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawHttp:
    """Up to ``size`` keep-alive connections to ``127.0.0.1:port``."""

    def __init__(self, port: int, size: int = 512) -> None:
        self.port = port
        self.size = size
        self._free: asyncio.Queue[_Conn] = asyncio.Queue()
        self._opened = 0

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Response:
        """Send one request on a free connection and read the whole response."""
        reader, writer = await self._take()
        try:
            writer.write(_encode(method, path, self.port, headers, body))
            response = await _read(reader)
        except BaseException:
            writer.close()
            self._opened -= 1
            raise
        if response[1].get("connection") == "close":
            writer.close()
            self._opened -= 1
        else:
            self._free.put_nowait((reader, writer))
        return response

    async def close(self) -> None:
        while not self._free.empty():
            _, writer = self._free.get_nowait()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _take(self) -> _Conn:
        # A free connection, a new one while under the bound, else wait.
        if not self._free.empty():
            return self._free.get_nowait()
        if self._opened < self.size:
            self._opened += 1
            try:
                return await asyncio.open_connection("127.0.0.1", self.port)
            except BaseException:
                self._opened -= 1
                raise
        return await self._free.get()


def _encode(
    method: str, path: str, port: int, headers: dict[str, str], body: bytes
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read(reader: asyncio.StreamReader) -> Response:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return int(status_line[9:12]), headers, body
