"""Admission control: the adaptive concurrency limit in front of every entry point.

Work is admitted by partition, highest priority first: ``live`` (messages
and changes of live sessions), ``contact`` (new contacts), ``history``
(history reads).  A request over the limit is refused at once with 503 and
a ``Retry-After``; it never waits in a queue until it times out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kefu.errors import Overloaded
from kefu.resilience import AdaptiveLimiter, Gradient2Limit, WindowedLimit

LIVE = "live"
CONTACT = "contact"
HISTORY = "history"


class Admission:
    """Wraps kefu's limiter; ``None`` turns admission control off."""

    def __init__(self, limiter: AdaptiveLimiter | None) -> None:
        self.limiter = limiter

    @classmethod
    def adaptive(cls) -> Admission:
        """Gradient2 on windowed samples, concurrency-limits' defaults."""
        return cls(AdaptiveLimiter("requests", WindowedLimit(Gradient2Limit())))

    @asynccontextmanager
    async def admit(self, partition: str) -> AsyncIterator[None]:
        """Hold a slot for the body, or raise :class:`Overloaded` at once."""
        limiter = self.limiter
        if limiter is None:
            yield
            return
        listener = limiter.try_acquire(partition)
        if listener is None:
            raise Overloaded(
                "kefu is at capacity; retry shortly",
                retry_after_s=limiter.retry_after_s(),
            )
        try:
            yield
        except BaseException:
            listener.on_ignore()
            raise
        listener.on_success()
