"""The adaptive concurrency limiter with priority partitions.

:class:`AdaptiveLimiter` counts requests in flight against the limit computed
by a :class:`~kefu.resilience.algorithms.LimitAlgorithm` and answers at once:
a request either gets a :class:`Listener` or is rejected. Partitions follow
concurrency-limits'
``com.netflix.concurrency.limits.limiter.AbstractPartitionedLimiter``: each
partition is guaranteed a share of the limit, which it gets even when the
limiter is full, and may borrow capacity other partitions leave unused. kefu
adds a borrow ceiling per partition so that, under pressure, live session
messages are admitted before new contacts and new contacts before history
reads.

The limiter is meant for one event loop and takes no locks.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from kefu.resilience.algorithms import Gradient2Limit, LimitAlgorithm
from kefu.resilience.clock import SYSTEM_CLOCK, Clock
from kefu.resilience.errors import LimitExceeded
from kefu.resilience.windowed import WindowedLimit

__all__ = [
    "DEFAULT_PARTITIONS",
    "AdaptiveLimiter",
    "Listener",
    "Partition",
    "retry_after_seconds",
]

logger = logging.getLogger(__name__)

LimitListener = Callable[[int, int], None]
"""Called with ``(old_limit, new_limit)`` whenever the limit changes."""

RejectListener = Callable[[str], None]
"""Called with the partition name on every rejection."""


@dataclass(frozen=True)
class Partition:
    """A class of requests with a guaranteed share of the limit.

    ``share`` (0 to 1) of the limit, rounded up and at least one request, is
    always available to the partition. Beyond its share the partition may
    borrow while the limiter's total in flight stays below ``borrow_ceiling``
    times the limit; a lower ceiling keeps the top of the limit free for the
    partitions that matter more.
    """

    name: str
    share: float
    borrow_ceiling: float = 1.0


DEFAULT_PARTITIONS: tuple[Partition, ...] = (
    Partition("live", share=0.6, borrow_ceiling=1.0),
    Partition("contact", share=0.3, borrow_ceiling=0.9),
    Partition("history", share=0.1, borrow_ceiling=0.8),
)
"""kefu's partitions, highest priority first: messages of live sessions, new
contacts, history reads."""


def retry_after_seconds(
    rtt_s: float,
    inflight: int,
    limit: int,
    *,
    min_s: float = 1.0,
    max_s: float = 30.0,
) -> float:
    """Suggest a ``Retry-After`` delay in whole seconds for a rejected request.

    Twice the time the limiter needs to work off its current load once
    (``rtt * inflight / limit``, at least one RTT), rounded up to a whole
    second and kept within ``[min_s, max_s]``.
    """
    # Time to work off the load in flight, at least one round trip.
    drain_s = rtt_s * max(1.0, inflight / max(limit, 1))
    # Leave a margin and round up to what a Retry-After header can carry.
    return float(min(max_s, max(min_s, math.ceil(2 * drain_s))))


class _PartitionState:
    """Mutable bookkeeping of one partition."""

    def __init__(self, spec: Partition) -> None:
        self.spec = spec
        self.inflight = 0
        self.rejections = 0
        self.share_limit = 1
        self.borrow_limit = 1

    def resize(self, limit: int) -> None:
        """Recompute the partition's bounds for a new total limit."""
        self.share_limit = max(1, math.ceil(limit * self.spec.share))
        self.borrow_limit = max(1, math.floor(limit * self.spec.borrow_ceiling))


class Listener:
    """The ticket of one admitted request; report its outcome exactly once.

    Call :meth:`on_success` when the request completed normally,
    :meth:`on_dropped` when it timed out or failed from overload, and
    :meth:`on_ignore` when its latency says nothing about load (a validation
    error, a cancelled request). Later calls are ignored.
    """

    def __init__(
        self,
        limiter: AdaptiveLimiter,
        partition: _PartitionState,
        start_s: float,
        inflight: int,
    ) -> None:
        self._limiter = limiter
        self._partition = partition
        self._start_s = start_s
        self._inflight = inflight
        self._done = False

    def on_success(self) -> None:
        """Release the slot and feed the request's latency to the algorithm."""
        self._finish(sample=True, did_drop=False)

    def on_dropped(self) -> None:
        """Release the slot and report the request as dropped."""
        self._finish(sample=True, did_drop=True)

    def on_ignore(self) -> None:
        """Release the slot without feeding the algorithm."""
        self._finish(sample=False, did_drop=False)

    def _finish(self, *, sample: bool, did_drop: bool) -> None:
        if self._done:
            return
        self._done = True
        self._limiter._release(
            self._partition,
            self._start_s,
            self._inflight,
            sample=sample,
            did_drop=did_drop,
        )


class AdaptiveLimiter:
    """Admits requests up to an adaptive concurrency limit, by partition.

    ``algorithm`` defaults to Gradient2 behind one-second sampling windows.
    Rejections are immediate: :meth:`try_acquire` returns ``None`` and
    :meth:`acquire` raises :class:`~kefu.resilience.errors.LimitExceeded`
    with a ``retry_after_s`` from :meth:`retry_after_s`.
    """

    def __init__(
        self,
        name: str,
        algorithm: LimitAlgorithm | None = None,
        *,
        partitions: Sequence[Partition] = DEFAULT_PARTITIONS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        # Check the partitions before anything depends on them.
        if not partitions:
            raise ValueError("at least one partition is required")
        if sum(p.share for p in partitions) > 1.0 + 1e-9:
            raise ValueError("partition shares must add up to at most 1.0")
        self.name = name
        self._algorithm = algorithm or WindowedLimit(Gradient2Limit())
        self._clock = clock
        self._partitions = {p.name: _PartitionState(p) for p in partitions}
        self._inflight = 0
        self._limit = self._algorithm.limit
        self._rtt_ema_s = 0.0
        self._limit_listeners: list[LimitListener] = []
        self._reject_listeners: list[RejectListener] = []
        self._resize_partitions()

    # Read-only state, for metrics and tests.

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return self._limit

    @property
    def inflight(self) -> int:
        """Requests admitted and not yet finished, over all partitions."""
        return self._inflight

    @property
    def partition_names(self) -> tuple[str, ...]:
        """The partition names, highest priority first."""
        return tuple(self._partitions)

    def partition_inflight(self, partition: str) -> int:
        """Requests of ``partition`` in flight."""
        return self._state(partition).inflight

    def partition_share_limit(self, partition: str) -> int:
        """The part of the limit guaranteed to ``partition``."""
        return self._state(partition).share_limit

    def rejections(self, partition: str) -> int:
        """Requests of ``partition`` rejected since the limiter was created."""
        return self._state(partition).rejections

    # Hooks.

    def add_limit_listener(self, listener: LimitListener) -> None:
        """Call ``listener(old, new)`` whenever the limit changes."""
        self._limit_listeners.append(listener)

    def add_reject_listener(self, listener: RejectListener) -> None:
        """Call ``listener(partition)`` on every rejection."""
        self._reject_listeners.append(listener)

    # Admission.

    def try_acquire(self, partition: str) -> Listener | None:
        """Admit a request of ``partition`` or return ``None`` at once."""
        state = self._state(partition)
        # Refuse when neither the guaranteed share nor borrowing allows it.
        if not self._admits(state):
            self._reject(state)
            return None
        # Count the request in flight and hand out its ticket.
        state.inflight += 1
        self._inflight += 1
        return Listener(self, state, self._clock.monotonic(), self._inflight)

    @asynccontextmanager
    async def acquire(self, partition: str) -> AsyncIterator[Listener]:
        """Hold a slot of ``partition`` for the body of an ``async with``.

        Raises :class:`LimitExceeded` when the request is rejected. A body
        that returns reports success; one that raises :class:`TimeoutError`
        reports a drop; any other exception, cancellation included, releases
        the slot without a sample. The body may report an outcome itself
        through the yielded listener.
        """
        listener = self.try_acquire(partition)
        if listener is None:
            raise LimitExceeded(
                self.name, partition, retry_after_s=self.retry_after_s()
            )
        try:
            yield listener
        except asyncio.CancelledError:
            listener.on_ignore()
            raise
        except TimeoutError:
            listener.on_dropped()
            raise
        except BaseException:
            listener.on_ignore()
            raise
        listener.on_success()

    def retry_after_s(self) -> float:
        """A ``Retry-After`` value in seconds from recent RTT and the limit."""
        return retry_after_seconds(self._rtt_ema_s, self._inflight, self._limit)

    # Internals.

    def _state(self, partition: str) -> _PartitionState:
        try:
            return self._partitions[partition]
        except KeyError:
            raise ValueError(f"unknown partition {partition!r}") from None

    def _admits(self, state: _PartitionState) -> bool:
        # Within its guaranteed share a partition is always admitted.
        if state.inflight < state.share_limit:
            return True
        # Beyond it, it borrows only while the total is below its ceiling.
        return self._inflight < state.borrow_limit

    def _reject(self, state: _PartitionState) -> None:
        state.rejections += 1
        logger.debug(
            "limiter %s rejected %s inflight %d limit %d",
            self.name,
            state.spec.name,
            self._inflight,
            self._limit,
        )
        for listener in self._reject_listeners:
            listener(state.spec.name)

    def _release(
        self,
        state: _PartitionState,
        start_s: float,
        inflight: int,
        *,
        sample: bool,
        did_drop: bool,
    ) -> None:
        # Free the slot.
        state.inflight -= 1
        self._inflight -= 1
        if not sample:
            return
        # A zero RTT (a coarse clock) carries no information.
        rtt_s = self._clock.monotonic() - start_s
        if rtt_s <= 0:
            return
        # Feed the measurement to the algorithm and track the typical RTT.
        self._track_rtt(rtt_s)
        new_limit = self._algorithm.on_sample(start_s, rtt_s, inflight, did_drop)
        # Apply a changed limit to every partition.
        if new_limit != self._limit:
            self._set_limit(new_limit)

    def _track_rtt(self, rtt_s: float) -> None:
        if self._rtt_ema_s == 0:
            self._rtt_ema_s = rtt_s
        else:
            self._rtt_ema_s = 0.9 * self._rtt_ema_s + 0.1 * rtt_s

    def _set_limit(self, new_limit: int) -> None:
        old_limit, self._limit = self._limit, new_limit
        self._resize_partitions()
        logger.debug("limiter %s limit %d -> %d", self.name, old_limit, new_limit)
        for listener in self._limit_listeners:
            listener(old_limit, new_limit)

    def _resize_partitions(self) -> None:
        for state in self._partitions.values():
            state.resize(self._limit)
