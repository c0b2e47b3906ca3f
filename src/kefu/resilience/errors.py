"""The exceptions raised by :mod:`kefu.resilience`, written down once.

::

    ResilienceError
    ├── Rejected                 work refused before it started
    │   ├── LimitExceeded        adaptive concurrency limit reached
    │   ├── CallNotPermitted     circuit breaker open (or half-open and full)
    │   └── BulkheadFull         no bulkhead slot within the wait bound
    └── CallTimeout              a guarded call passed its deadline

Each class says through ``retriable`` whether trying the same work again later
can succeed; the retry helpers follow that flag. Rejections carry
``retry_after_s``, the delay the HTTP layer puts in a ``Retry-After`` header.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BulkheadFull",
    "CallNotPermitted",
    "CallTimeout",
    "LimitExceeded",
    "Rejected",
    "ResilienceError",
]


class ResilienceError(Exception):
    """Base class of every error raised by the resilience primitives."""

    retriable: ClassVar[bool] = False
    """Whether the same work may succeed if tried again later."""


class Rejected(ResilienceError):
    """Work was refused at once, without being started.

    ``retry_after_s`` is a suggested delay in seconds before trying again.
    """

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LimitExceeded(Rejected):
    """The adaptive limiter refused a request of one partition.

    The server is at its measured concurrency limit; the caller should answer
    503 (or 429) with ``Retry-After`` rather than queue the request.
    """

    retriable: ClassVar[bool] = True

    def __init__(self, limiter: str, partition: str, *, retry_after_s: float) -> None:
        super().__init__(
            f"limiter {limiter!r} rejected partition {partition!r}",
            retry_after_s=retry_after_s,
        )
        self.limiter = limiter
        self.partition = partition


class CallNotPermitted(Rejected):
    """A circuit breaker refused a call because it is open.

    Also raised in the half-open state once every trial call is taken.
    Retrying at once is pointless; ``retry_after_s`` is the time left until
    the breaker lets trial calls through.
    """

    def __init__(self, breaker: str, state: str, *, retry_after_s: float) -> None:
        super().__init__(
            f"breaker {breaker!r} is {state}; call not permitted",
            retry_after_s=retry_after_s,
        )
        self.breaker = breaker
        self.state = state


class BulkheadFull(Rejected):
    """No bulkhead slot became free within the bulkhead's wait bound."""

    retriable: ClassVar[bool] = True

    def __init__(self, bulkhead: str, max_concurrent: int, max_wait_s: float) -> None:
        super().__init__(
            f"bulkhead {bulkhead!r} full ({max_concurrent} concurrent calls)",
            retry_after_s=max(max_wait_s, 1.0),
        )
        self.bulkhead = bulkhead
        self.max_concurrent = max_concurrent
        self.max_wait_s = max_wait_s


class CallTimeout(ResilienceError, TimeoutError):
    """A call guarded by a circuit breaker did not finish within its timeout.

    It is also a :class:`TimeoutError`, so code that already handles timeouts
    keeps working. The breaker records it as a failure.
    """

    retriable: ClassVar[bool] = True

    def __init__(self, breaker: str, timeout_s: float) -> None:
        super().__init__(f"call through breaker {breaker!r} exceeded {timeout_s} s")
        self.breaker = breaker
        self.timeout_s = timeout_s
