"""Time sources for the resilience primitives.

Every primitive in :mod:`kefu.resilience` reads time through a :class:`Clock` so
that tests drive it with a :class:`VirtualClock` instead of waiting. Times are
float seconds on a monotonic scale with an arbitrary origin.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "MonotonicClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source."""

    def monotonic(self) -> float:
        """Return the current time in seconds; it never goes backwards."""
        ...


class MonotonicClock:
    """The process's monotonic clock (:func:`time.monotonic`)."""

    def monotonic(self) -> float:
        """Return the current time in seconds."""
        return time.monotonic()


class VirtualClock:
    """A clock that only moves when a test calls :meth:`advance`."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s

    def monotonic(self) -> float:
        """Return the current virtual time in seconds."""
        return self._now_s

    def advance(self, delta_s: float) -> None:
        """Move the clock forward by ``delta_s`` seconds (never backwards)."""
        if delta_s < 0:
            raise ValueError("a clock cannot go backwards")
        self._now_s += delta_s


SYSTEM_CLOCK: Clock = MonotonicClock()
"""The shared real clock, used when no clock is injected."""
