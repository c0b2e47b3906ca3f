"""``kefu bench contacts``: ``POST /v1/contacts`` against a bare ASGI application.

kefu runs on its embedded store with no agent online, so every contact takes
the full path (token, classifier, priority, queue, durable write) and waits
in its queue.  Each request carries its own customer's token, minted ahead of
time: kefu allows a customer 10 contacts a minute.  The limit is the bare
application of :mod:`kefu.simulator.bench.limits` under the same uvicorn
options, sent the very same requests by the same generator.  kefu's p99 at
70% of its highest sustained rate is measured on a fresh process, so that the
overload at the end of the search does not weigh on it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson

from kefu.simulator.actors import OTHER_TEXTS, SENSITIVE_TEXTS
from kefu.simulator.bench import load, procs
from kefu.simulator.bench.wire import HttpPool, http_request

logger = logging.getLogger(__name__)

#: Keep-alive connections the generator sends over.
POOL_SIZE = 128
#: The first rate (contacts per second) of the search.
START_RATE = 50.0
#: Share of kefu's highest sustained rate at which its p99 is reported.
REPORT_SHARE = 0.7
#: Seconds each server is warmed up for before its search.
WARMUP_S = 2.0
#: Seconds a step's requests still in flight may take to finish.
SETTLE_S = 30.0

_TEXTS = OTHER_TEXTS + SENSITIVE_TEXTS


def customer_token(customer_id: str) -> str:
    """A customer token as the host app mints it, valid for two hours."""
    claims = {"sub": customer_id, "exp": int(time.time()) + 7200}
    return jwt.encode(claims, procs.SECRET, algorithm="HS256")


class Requests:
    """Contact requests, each from a customer never seen before in this run."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._next_customer = 0
        self._current: list[bytes] = []

    def prepare(self, count: int) -> None:
        """Mint the tokens and encode the requests of the next step."""
        self._current = [self._request(self._next_customer + i) for i in range(count)]
        self._next_customer += count

    def request_for(self, index: int) -> bytes:
        """The encoded request of the step's ``index``-th contact."""
        return self._current[index]

    def _request(self, n: int) -> bytes:
        body = orjson.dumps(
            {
                "text": _TEXTS[n % len(_TEXTS)],
                "channel": "app",
                "order_id": f"o-{n:06d}",
                "order_status": "delivering",
            }
        )
        headers = {
            "Authorization": f"Bearer {customer_token(f'bench-{n:06d}')}",
            "Content-Type": "application/json",
        }
        return http_request("POST", "/v1/contacts", self.port, body, headers)


@dataclass(frozen=True, slots=True)
class ServerResult:
    """One server's search, and its p99 at a reduced rate if asked."""

    search: load.Search
    reduced: load.StepResult | None


StepFn = Callable[[float, float], Awaitable[load.StepResult]]


@contextlib.asynccontextmanager
async def driven(kind: str, tag: str, workdir: Path) -> AsyncIterator[StepFn]:
    """A fresh server (``kefu`` or ``asgi``), warmed up; yields a step runner."""
    # The server: kefu on a data directory of its own, or the bare application.
    port = procs.free_port()
    if kind == "kefu":
        args, ready = procs.kefu_args(port, workdir / f"contacts-{tag}"), "/readyz"
    else:
        args, ready = procs.limit_args("asgi", port), "/"
    async with procs.child(tag, args, port, ready, workdir / f"{tag}.log"):
        # Open the pool once; every step sends over the same connections.
        requests = Requests(port)
        pool = HttpPool(port, POOL_SIZE, requests.request_for)
        await pool.start()
        try:

            async def step(rate: float, window_s: float) -> load.StepResult:
                requests.prepare(max(1, round(rate * window_s)))
                result = await load.run_step(pool, rate, window_s)
                await pool.settle(SETTLE_S)
                return result

            await step(START_RATE, WARMUP_S)
            yield step
        finally:
            await pool.stop()


async def run(seconds: float, workdir: Path) -> dict[str, Any]:
    """kefu, then the bare ASGI limit; the figures of ``contacts`` in the JSON."""
    ladder = load.Ladder(START_RATE, seconds)
    # kefu: the highest sustained rate.
    async with driven("kefu", "kefu", workdir) as step:
        kefu = await load.find_max_rate(step, ladder, "contacts kefu")

    # kefu again, fresh (no overload behind it), at 70% of that rate.
    reduced = None
    if kefu.best_rate > 0:
        async with driven("kefu", "kefu-at-70pct", workdir) as step:
            reduced = await step(kefu.best_rate * REPORT_SHARE, seconds)

    # The bare ASGI application under the same uvicorn options.
    async with driven("asgi", "asgi-limit", workdir) as step:
        limit = await load.find_max_rate(step, ladder, "contacts asgi-limit")
    return summarise(ServerResult(kefu, reduced), ServerResult(limit, None))


def summarise(kefu: ServerResult, limit: ServerResult) -> dict[str, Any]:
    """The JSON figures, with every step kept for whoever checks them."""
    kefu_rps, limit_rps = kefu.search.best_rate, limit.search.best_rate
    p99 = kefu.reduced.p99_ms if kefu.reduced else float("nan")
    return {
        "kefu_rps": round(kefu_rps, 1),
        "limit_rps": round(limit_rps, 1),
        "ratio": round(kefu_rps / limit_rps, 3) if limit_rps else None,
        "p99_ms_at_70pct": load.round_ms(p99),
        "generator_send_rate_at_limit": (
            round(limit.search.best.send_rate, 1) if limit.search.best else None
        ),
        "kefu_steps": [s.summary() for s in kefu.search.steps],
        "limit_steps": [s.summary() for s in limit.search.steps],
        "kefu_at_70pct": kefu.reduced.summary() if kefu.reduced else None,
    }
