"""The processes a benchmark measures: kefu and the limit servers, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from kefu.simulator.bench.wire import http_request, read_response

logger = logging.getLogger(__name__)

#: How long (seconds) a child may take to answer its readiness check.
READY_TIMEOUT_S = 60.0
#: How long (seconds) a child may take to exit after SIGTERM.
STOP_TIMEOUT_S = 30.0

#: The shared secret kefu checks customer tokens with in every benchmark.
SECRET = "bench-customer-secret-0123456789abcdef"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_open_files() -> int:
    """Raise this process's open-file limit to its hard limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Child:
    """A running server process."""

    name: str
    port: int
    proc: asyncio.subprocess.Process
    log: Path

    def rss_bytes(self) -> int:
        """Resident memory, from ``VmRSS`` in ``/proc/PID/status``."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")


def kefu_args(port: int, data_dir: Path) -> list[str]:
    """``kefu serve`` on the embedded store, quiet, agents never re-offered."""
    return [
        "-m",
        "kefu",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--no-access-log",
        "--log-level",
        "warning",
        "--offer-timeout",
        "3600",
        # Every benchmark agent logs in from this one address.
        "--logins-per-address",
        "100000",
    ]


def limit_args(kind: str, port: int) -> list[str]:
    """One of the bare limit servers of :mod:`kefu.simulator.bench.limits`."""
    return ["-m", "kefu.simulator.bench.limits", kind, "--port", str(port)]


@contextlib.asynccontextmanager
async def child(
    name: str, args: list[str], port: int, ready_path: str | None, log: Path
) -> AsyncIterator[Child]:
    """Start ``python args...``; ready once ``ready_path`` answers 2xx.

    Without ``ready_path`` the child is ready once its port accepts.
    """
    # Start the process with its output in a log file.
    out = await asyncio.to_thread(log.open, "ab")
    with out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env={**os.environ, "KEFU_CUSTOMER_TOKEN_SECRET": SECRET},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Child(name, port, proc, log)
    try:
        # Wait for readiness, failing fast if the process dies.
        await _wait_ready(running, ready_path)
        logger.info("%s ready on port %d (pid %d)", name, port, proc.pid)
        yield running
    finally:
        # SIGTERM, then SIGKILL if it does not exit in time.
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _wait_ready(running: Child, ready_path: str | None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.proc.returncode is not None:
            tail = running.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{running.name} exited early:\n{tail}")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            if await _answers(running.port, ready_path):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{running.name} did not become ready in time")


async def _answers(port: int, path: str | None) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if path is None:
            return True
        writer.write(http_request("GET", path, port, b"", {"Connection": "close"}))
        status, _ = await read_response(reader)
        return 200 <= status < 300
    finally:
        writer.close()
