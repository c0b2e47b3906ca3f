"""A circuit breaker with resilience4j's semantics.

:class:`CircuitBreaker` is a pure state machine driven by an injected clock,
modelled on resilience4j's ``CircuitBreakerStateMachine`` and
``CircuitBreakerConfig``; :meth:`CircuitBreaker.call` wraps it around an
awaitable with a timeout.

* CLOSED: calls pass and their outcomes fill a sliding window (the last N
  calls, or the calls of the last N seconds). Once the window holds at least
  ``minimum_calls`` calls, a failure rate or slow-call rate at or above its
  threshold opens the breaker.
* OPEN: calls are refused with :class:`CallNotPermitted`. The first call
  attempted after ``wait_in_open_s`` moves the breaker to HALF_OPEN.
* HALF_OPEN: exactly ``half_open_calls`` trial calls are let through. When all
  of them have completed, the rates decide: OPEN again, or CLOSED.
* FORCED_OPEN and DISABLED are entered only by hand: the first refuses every
  call, the second lets every call through and records nothing.

Every transition starts a fresh window and is reported to transition
listeners. As in resilience4j, an outcome is recorded in the window of the
state the breaker is in when the call ends: a call that ends while the breaker
is open is not recorded.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

from kefu.resilience.clock import SYSTEM_CLOCK, Clock
from kefu.resilience.errors import CallNotPermitted, CallTimeout

__all__ = [
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "WindowType",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BreakerState(enum.Enum):
    """The states of a circuit breaker; the value is the metric gauge value."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2
    FORCED_OPEN = 3
    DISABLED = 4

    @property
    def label(self) -> str:
        """The lowercase name used in logs and metric labels."""
        return self.name.lower()


class WindowType(enum.Enum):
    """How the sliding window of a breaker is measured."""

    COUNT_BASED = "count_based"
    """The last ``window_size`` calls."""
    TIME_BASED = "time_based"
    """The calls of the last ``window_size`` seconds, in one-second buckets."""


TransitionListener = Callable[[str, BreakerState, BreakerState], None]
"""Called with ``(breaker name, from state, to state)`` on every transition."""


def _record_every_exception(exc: BaseException) -> bool:
    return True


@dataclass(frozen=True)
class BreakerSettings:
    """The settings of one circuit breaker.

    Defaults are resilience4j's, except ``call_timeout_s``: kefu gives every
    third-party call one second. Rates are percentages; durations are seconds.
    ``record_failure`` decides whether an exception counts as a failure; an
    exception it declines is ignored (neither success nor failure).
    """

    window_type: WindowType = WindowType.COUNT_BASED
    window_size: int = 100
    minimum_calls: int = 100
    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_duration_s: float = 60.0
    wait_in_open_s: float = 60.0
    half_open_calls: int = 10
    call_timeout_s: float = 1.0
    record_failure: Callable[[BaseException], bool] = _record_every_exception

    def __post_init__(self) -> None:
        # Reject settings under which the state machine cannot work.
        if self.window_size < 1 or self.minimum_calls < 1:
            raise ValueError("window_size and minimum_calls must be at least 1")
        if self.half_open_calls < 1:
            raise ValueError("half_open_calls must be at least 1")
        for rate in (self.failure_rate_threshold, self.slow_call_rate_threshold):
            if not 0.0 < rate <= 100.0:
                raise ValueError("rate thresholds must be in (0, 100]")


class _Snapshot(NamedTuple):
    calls: int
    failed: int
    slow: int

    def failure_rate(self) -> float:
        return 100.0 * self.failed / self.calls if self.calls else 0.0

    def slow_call_rate(self) -> float:
        return 100.0 * self.slow / self.calls if self.calls else 0.0


class _Window(Protocol):
    def record(self, now_s: float, failed: bool, slow: bool) -> _Snapshot: ...

    def snapshot(self, now_s: float) -> _Snapshot: ...


class _CountWindow:
    """The outcomes of the last ``size`` calls."""

    def __init__(self, size: int) -> None:
        self._outcomes: deque[tuple[bool, bool]] = deque(maxlen=size)
        self._failed = 0
        self._slow = 0

    def record(self, now_s: float, failed: bool, slow: bool) -> _Snapshot:
        # Forget the oldest outcome when the window is full.
        if len(self._outcomes) == self._outcomes.maxlen:
            old_failed, old_slow = self._outcomes[0]
            self._failed -= old_failed
            self._slow -= old_slow
        self._outcomes.append((failed, slow))
        self._failed += failed
        self._slow += slow
        return self.snapshot(now_s)

    def snapshot(self, now_s: float) -> _Snapshot:
        return _Snapshot(len(self._outcomes), self._failed, self._slow)


class _TimeWindow:
    """The outcomes of the last ``size_s`` seconds, in one-second buckets."""

    def __init__(self, size_s: int) -> None:
        self._size_s = size_s
        self._buckets: deque[list[int]] = deque()

    def record(self, now_s: float, failed: bool, slow: bool) -> _Snapshot:
        # Add to the bucket of the current second, opening it if needed.
        second = math.floor(now_s)
        self._evict(second)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow
        return self.snapshot(now_s)

    def snapshot(self, now_s: float) -> _Snapshot:
        self._evict(math.floor(now_s))
        calls = sum(b[1] for b in self._buckets)
        failed = sum(b[2] for b in self._buckets)
        slow = sum(b[3] for b in self._buckets)
        return _Snapshot(calls, failed, slow)

    def _evict(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self._size_s:
            self._buckets.popleft()


class CircuitBreaker:
    """A circuit breaker guarding calls to one dependency (see the module doc)."""

    def __init__(
        self,
        name: str,
        settings: BreakerSettings | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at_s = 0.0
        self._half_open_permits = 0
        self._window: _Window = self._closed_window()
        self._listeners: list[TransitionListener] = []

    # Read-only state, for metrics and tests.

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN stays OPEN until a call is attempted)."""
        return self._state

    @property
    def failure_rate(self) -> float:
        """Failure rate of the current window in percent, -1 below the minimum."""
        snapshot = self._window.snapshot(self._clock.monotonic())
        if snapshot.calls < self._minimum_calls():
            return -1.0
        return snapshot.failure_rate()

    @property
    def slow_call_rate(self) -> float:
        """Slow-call rate of the current window in percent, -1 below the minimum."""
        snapshot = self._window.snapshot(self._clock.monotonic())
        if snapshot.calls < self._minimum_calls():
            return -1.0
        return snapshot.slow_call_rate()

    @property
    def buffered_calls(self) -> int:
        """Calls recorded in the current window."""
        return self._window.snapshot(self._clock.monotonic()).calls

    def add_transition_listener(self, listener: TransitionListener) -> None:
        """Call ``listener(name, from_state, to_state)`` on every transition."""
        self._listeners.append(listener)

    # Permission.

    def try_acquire_permission(self) -> bool:
        """Return whether a call may start now, taking a trial slot if half-open."""
        # An open breaker moves to half-open once its wait is over.
        if self._state is BreakerState.OPEN and self._open_wait_left_s() <= 0:
            self._transition(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN:
            return self._take_trial_permit()
        return self._state in (BreakerState.CLOSED, BreakerState.DISABLED)

    def acquire_permission(self) -> None:
        """Take permission for one call or raise :class:`CallNotPermitted`."""
        if not self.try_acquire_permission():
            raise CallNotPermitted(
                self.name, self._state.label, retry_after_s=self._retry_after_s()
            )

    def release_permission(self) -> None:
        """Give back a permission whose call was never made or was cancelled."""
        if self._state is BreakerState.HALF_OPEN:
            self._half_open_permits += 1

    # Outcomes.

    def on_success(self, duration_s: float) -> None:
        """Record a call that succeeded after ``duration_s`` seconds."""
        self._record(failed=False, duration_s=duration_s)

    def on_error(self, duration_s: float, exc: BaseException) -> None:
        """Record a call that raised ``exc`` after ``duration_s`` seconds."""
        # Exceptions the settings do not count are ignored.
        if not self.settings.record_failure(exc):
            self.release_permission()
            return
        self._record(failed=True, duration_s=duration_s)

    # Manual transitions.

    def transition_to_closed(self) -> None:
        """Close the breaker by hand, starting a fresh window."""
        self._transition(BreakerState.CLOSED)

    def transition_to_open(self) -> None:
        """Open the breaker by hand; it half-opens after the usual wait."""
        self._transition(BreakerState.OPEN)

    def transition_to_forced_open(self) -> None:
        """Refuse every call until another manual transition."""
        self._transition(BreakerState.FORCED_OPEN)

    def transition_to_disabled(self) -> None:
        """Let every call through and record nothing until another transition."""
        self._transition(BreakerState.DISABLED)

    # The guarded call.

    async def call(
        self, fn: Callable[[], Awaitable[T]], timeout_s: float | None = None
    ) -> T:
        """Await ``fn()`` through the breaker, within ``timeout_s`` seconds.

        ``timeout_s`` defaults to ``settings.call_timeout_s``. Raises
        :class:`CallNotPermitted` without calling ``fn`` when the breaker
        refuses, and :class:`CallTimeout` (a failure) when the timeout
        expires. Other exceptions are recorded and re-raised; cancellation
        gives the permission back and is re-raised.
        """
        # Refuse at once when the breaker does not permit the call.
        self.acquire_permission()
        limit_s = self.settings.call_timeout_s if timeout_s is None else timeout_s
        start_s = self._clock.monotonic()
        # Run the call under its deadline and record how it ended.
        try:
            async with asyncio.timeout(limit_s) as deadline:
                result = await fn()
        except TimeoutError as exc:
            self.on_error(self._clock.monotonic() - start_s, exc)
            if deadline.expired():
                raise CallTimeout(self.name, limit_s) from exc
            raise
        except Exception as exc:
            self.on_error(self._clock.monotonic() - start_s, exc)
            raise
        except BaseException:
            # Cancelled (or interrupted): no outcome, give the permission back.
            self.release_permission()
            raise
        self.on_success(self._clock.monotonic() - start_s)
        return result

    # Internals.

    def _closed_window(self) -> _Window:
        if self.settings.window_type is WindowType.TIME_BASED:
            return _TimeWindow(self.settings.window_size)
        return _CountWindow(self.settings.window_size)

    def _minimum_calls(self) -> int:
        # Half-open decides on its trial calls alone.
        if self._state is BreakerState.HALF_OPEN:
            return self.settings.half_open_calls
        # A count window can never hold more calls than its size.
        if self.settings.window_type is WindowType.COUNT_BASED:
            return min(self.settings.minimum_calls, self.settings.window_size)
        return self.settings.minimum_calls

    def _take_trial_permit(self) -> bool:
        if self._half_open_permits <= 0:
            return False
        self._half_open_permits -= 1
        return True

    def _open_wait_left_s(self) -> float:
        elapsed_s = self._clock.monotonic() - self._opened_at_s
        return self.settings.wait_in_open_s - elapsed_s

    def _retry_after_s(self) -> float:
        if self._state is BreakerState.OPEN:
            return max(0.0, self._open_wait_left_s())
        if self._state is BreakerState.HALF_OPEN:
            return self.settings.call_timeout_s
        return self.settings.wait_in_open_s

    def _record(self, *, failed: bool, duration_s: float) -> None:
        # Only closed and half-open breakers keep a window.
        if self._state not in (BreakerState.CLOSED, BreakerState.HALF_OPEN):
            return
        slow = duration_s >= self.settings.slow_call_duration_s
        snapshot = self._window.record(self._clock.monotonic(), failed, slow)
        # Decide nothing until the window holds enough calls.
        if snapshot.calls < self._minimum_calls():
            return
        # Rates at or above a threshold open the breaker.
        if self._above_thresholds(snapshot):
            self._transition(BreakerState.OPEN)
        # Half-open closes once its trial calls came back healthy.
        elif self._state is BreakerState.HALF_OPEN:
            self._transition(BreakerState.CLOSED)

    def _above_thresholds(self, snapshot: _Snapshot) -> bool:
        return (
            snapshot.failure_rate() >= self.settings.failure_rate_threshold
            or snapshot.slow_call_rate() >= self.settings.slow_call_rate_threshold
        )

    def _transition(self, to_state: BreakerState) -> None:
        from_state = self._state
        if from_state is to_state:
            return
        # Enter the new state with a fresh window.
        self._state = to_state
        self._opened_at_s = self._clock.monotonic()
        self._half_open_permits = self.settings.half_open_calls
        if to_state is BreakerState.HALF_OPEN:
            self._window = _CountWindow(self.settings.half_open_calls)
        else:
            self._window = self._closed_window()
        logger.info("breaker %s %s -> %s", self.name, from_state.label, to_state.label)
        # Tell the listeners.
        for listener in self._listeners:
            listener(self.name, from_state, to_state)
