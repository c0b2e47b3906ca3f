"""The verification worker: sends SMS codes, off the request path.

It consumes verification requests from the bus, issues a code, keeps its
hash, and asks the SMS provider to deliver it, through a circuit breaker with
a one-second timeout.  Whatever goes wrong with the provider (slow, failing,
breaker open) marks the session ``unavailable``: the conversation goes on and
the agent is shown that the customer is unverified.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx
import orjson

from kefu.access.protocol import PerKeyLimit
from kefu.errors import RateLimited
from kefu.observability import tracing
from kefu.resilience import BreakerSettings, CircuitBreaker, ResilienceError
from kefu.sessions import verification
from kefu.sessions.engine import SessionEngine
from kefu.sessions.verification import VerificationState

logger = logging.getLogger(__name__)

#: Breaker settings for the SMS provider: a one-second timeout, open when at
#: least half of the last 20 calls (after 5) failed or were slower than 1 s.
SMS_BREAKER = BreakerSettings(
    window_size=20,
    minimum_calls=5,
    failure_rate_threshold=50.0,
    slow_call_rate_threshold=50.0,
    slow_call_duration_s=1.0,
    wait_in_open_s=10.0,
    half_open_calls=3,
    call_timeout_s=1.0,
)


class SmsProvider(Protocol):
    async def send(self, recipient: str, text: str) -> None:
        """Deliver one text message; raise on any failure."""


class HttpSmsProvider:
    """An SMS provider behind ``POST {base_url}/v1/messages {"to", "text"}``.

    ``to`` is the customer id; the provider (or the host app's gateway in
    front of it) knows the customer's phone number.
    """

    def __init__(self, base_url: str, timeout_s: float | None = 5.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        )

    async def send(self, recipient: str, text: str) -> None:
        response = await self._client.post(
            "/v1/messages", json={"to": recipient, "text": text}
        )
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()


class VerificationWorker:
    """Consumes verification requests; see the module docstring."""

    def __init__(
        self,
        engine: SessionEngine,
        provider: SmsProvider | None,
        breaker: CircuitBreaker,
        *,
        sends_per_hour: int = 5,
        concurrency: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.provider = provider
        self.breaker = breaker
        self.clock = clock
        self._per_customer = PerKeyLimit(
            sends_per_hour / 3600.0, sends_per_hour, "too many codes sent"
        )
        # Up to ``concurrency`` codes are sent at once; beyond that the bus
        # holds the requests (and its lag shows it).
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, key: bytes, value: bytes) -> None:
        """Take one request from the bus; returns once its send has started."""
        await self._slots.acquire()
        task = asyncio.create_task(self._process(value))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            logger.error("verification failed", exc_info=task.exception())

    async def stop(self) -> None:
        """Wait for sends in progress (each is bounded by the breaker's timeout)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _process(self, value: bytes) -> None:
        request = orjson.loads(value)
        session_id, customer_id = request["session_id"], request["customer_id"]
        # No provider, or too many codes for this customer: go on unverified.
        if self.provider is None or not self._may_send(customer_id):
            await self.engine.set_verification(
                session_id, VerificationState.UNAVAILABLE
            )
            return
        # Keep the code's hash first, so a quick customer finds it.
        code = verification.new_code()
        challenge = verification.issue(
            self.engine.verification_key, session_id, code, self.clock()
        )
        if not await self.engine.store_challenge(challenge):
            return
        await self._send(session_id, customer_id, code)

    def _may_send(self, customer_id: str) -> bool:
        try:
            self._per_customer.check(customer_id)
        except RateLimited:
            return False
        return True

    async def _send(self, session_id: str, customer_id: str, code: str) -> None:
        provider = self.provider
        assert provider is not None
        text = f"Your kefu verification code is {code}. It expires in 5 minutes."
        try:
            with tracing.tracer.start_as_current_span("kefu.sms.send"):
                await self.breaker.call(lambda: provider.send(customer_id, text))
        except (ResilienceError, httpx.HTTPError, OSError) as exc:
            logger.warning(
                "sms not sent: %s", type(exc).__name__, extra={"session_id": session_id}
            )
            await self.engine.set_verification(
                session_id, VerificationState.UNAVAILABLE
            )
            return
        logger.info("sms sent", extra={"session_id": session_id})
