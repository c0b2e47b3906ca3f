"""``kefu bench connections``: what an idle authenticated WebSocket costs kefu.

One kefu process; this process opens the connections in batches, each
authenticated as a customer of its own, and holds them idle (answering the
server's pings).  The cost is kefu's resident memory growth (``VmRSS``)
divided by the number of connections.  Both processes get the hard limit of
open files, which 10,000 connections need.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from kefu.simulator.bench import procs
from kefu.simulator.bench.contacts import customer_token
from kefu.simulator.bench.messages import open_socket
from kefu.simulator.bench.wire import WsClient

logger = logging.getLogger(__name__)

#: Connections opened at once.
BATCH = 250
#: Connections opened and closed before the baseline is read, to warm up.
WARMUP_CONNECTIONS = 50
#: Seconds to wait for memory to settle before each reading.
SETTLE_S = 1.0
#: File descriptors this process keeps for everything but the connections.
SPARE_FILES = 100


async def run(count: int, workdir: Path) -> dict[str, Any]:
    """Open ``count`` idle authenticated connections; kefu's memory per one."""
    # Raise the open-file limit before kefu starts, so that it inherits it.
    hard = procs.raise_open_files()
    if count + SPARE_FILES > hard:
        raise RuntimeError(f"{count} connections need more than {hard} open files")

    data_dir = workdir / "connections-kefu"
    port = procs.free_port()
    args = procs.kefu_args(port, data_dir)
    log = workdir / "connections-kefu.log"
    async with procs.child("kefu", args, port, "/readyz", log) as kefu:
        # Warm up: a few connections opened and closed, then the baseline.
        warm = await _open(port, WARMUP_CONNECTIONS, "warm")
        for sock in warm:
            await sock.close()
        await asyncio.sleep(SETTLE_S)
        before = kefu.rss_bytes()

        # Open the connections in batches, each authenticated, and hold them.
        started = time.monotonic()
        socks = await _open(port, count, "idle")
        open_s = time.monotonic() - started
        await asyncio.sleep(SETTLE_S)
        after = kefu.rss_bytes()
        alive = sum(1 for sock in socks if not sock.closed.is_set())
        logger.info(
            "connections: %d open in %.1f s, rss %d -> %d bytes",
            alive,
            open_s,
            before,
            after,
        )
        for sock in socks:
            sock.abort()
    return {
        "count": alive,
        "bytes_per_connection": round((after - before) / max(1, alive)),
        "rss_before_bytes": before,
        "rss_after_bytes": after,
        "open_s": round(open_s, 2),
    }


async def _open(port: int, count: int, prefix: str) -> list[WsClient]:
    # Batches of concurrent opens, each waiting for its ``authenticated``.
    socks: list[WsClient] = []
    tokens = [customer_token(f"bench-{prefix}-{n:05d}") for n in range(count)]
    for first in range(0, count, BATCH):
        batch = tokens[first : first + BATCH]
        socks += await asyncio.gather(
            *(open_socket(port, "/v1/ws", token, _ignore) for token in batch)
        )
    return socks


def _ignore(raw: bytes) -> None:
    """Idle connections read nothing but pings, which the client answers."""
