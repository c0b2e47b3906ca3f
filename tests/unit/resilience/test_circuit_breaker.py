"""The circuit breaker's state machine on a virtual clock, and its async call."""

from __future__ import annotations

import asyncio

import pytest

from kefu.resilience.breaker import (
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    WindowType,
)
from kefu.resilience.clock import VirtualClock
from kefu.resilience.errors import CallNotPermitted, CallTimeout

CLOSED = BreakerState.CLOSED
OPEN = BreakerState.OPEN
HALF_OPEN = BreakerState.HALF_OPEN

SMALL = BreakerSettings(
    window_size=10,
    minimum_calls=5,
    failure_rate_threshold=50.0,
    wait_in_open_s=30.0,
    half_open_calls=3,
)


class Recorder:
    """Collects the transitions a breaker reports."""

    def __init__(self) -> None:
        self.transitions: list[tuple[BreakerState, BreakerState]] = []

    def __call__(self, name: str, old: BreakerState, new: BreakerState) -> None:
        self.transitions.append((old, new))


def make(
    settings: BreakerSettings = SMALL,
) -> tuple[CircuitBreaker, VirtualClock, Recorder]:
    """A breaker on a virtual clock with a transition recorder attached."""
    clock = VirtualClock()
    breaker = CircuitBreaker("sms", settings, clock=clock)
    recorder = Recorder()
    breaker.add_transition_listener(recorder)
    return breaker, clock, recorder


def record(breaker: CircuitBreaker, outcomes: str, duration_s: float = 0.01) -> None:
    """Run permitted calls with outcomes given as 'S' (success) or 'F' (failure)."""
    for outcome in outcomes:
        assert breaker.try_acquire_permission()
        if outcome == "S":
            breaker.on_success(duration_s)
        else:
            breaker.on_error(duration_s, RuntimeError("down"))


def open_breaker(breaker: CircuitBreaker) -> None:
    """Drive the breaker open with five failures."""
    record(breaker, "FFFFF")
    assert breaker.state is OPEN


def test_defaults_follow_kefu_policy() -> None:
    """Third-party calls default to a 1 s timeout and a 50% failure threshold."""
    settings = BreakerSettings()
    assert settings.call_timeout_s == 1.0
    assert settings.failure_rate_threshold == 50.0
    assert settings.window_type is WindowType.COUNT_BASED


def test_no_decision_below_minimum_calls() -> None:
    """Four failures out of four stay closed when five calls are the minimum."""
    breaker, _, recorder = make()
    record(breaker, "FFFF")
    assert breaker.state is CLOSED
    assert breaker.failure_rate == -1.0
    assert recorder.transitions == []


def test_opens_when_failure_rate_reaches_threshold() -> None:
    """40% failures stay closed; the next failure makes 50% and opens."""
    breaker, _, recorder = make()
    record(breaker, "FFSSS")
    assert breaker.state is CLOSED
    assert breaker.failure_rate == 40.0
    record(breaker, "F")
    assert breaker.state is OPEN
    assert recorder.transitions == [(CLOSED, OPEN)]


def test_count_window_forgets_old_calls() -> None:
    """With a window of 10, old failures slide out and the rate falls."""
    breaker, _, _ = make(BreakerSettings(window_size=10, minimum_calls=10))
    record(breaker, "FFFF" + "SSSSS")
    record(breaker, "SSSS")
    # The window holds the last 10 calls: F S S S S S S S S S.
    assert breaker.failure_rate == 10.0
    assert breaker.buffered_calls == 10


def test_opens_on_slow_call_rate() -> None:
    """Three slow successes out of five open a breaker with a 50% slow threshold."""
    settings = BreakerSettings(
        window_size=10,
        minimum_calls=5,
        slow_call_rate_threshold=50.0,
        slow_call_duration_s=2.0,
    )
    breaker, _, _ = make(settings)
    record(breaker, "SS", duration_s=0.1)
    record(breaker, "SS", duration_s=3.0)
    assert breaker.state is CLOSED
    record(breaker, "S", duration_s=2.0)
    assert breaker.state is OPEN


def test_open_refuses_with_time_left_as_retry_after() -> None:
    """An open breaker raises CallNotPermitted with the remaining wait."""
    breaker, clock, _ = make()
    open_breaker(breaker)
    clock.advance(10.0)
    with pytest.raises(CallNotPermitted) as caught:
        breaker.acquire_permission()
    assert caught.value.retry_after_s == pytest.approx(20.0)
    assert caught.value.state == "open"


def test_open_moves_to_half_open_on_first_call_after_wait() -> None:
    """After 30 s the breaker stays open until a call is attempted."""
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.advance(29.9)
    assert not breaker.try_acquire_permission()
    clock.advance(0.1)
    assert breaker.state is OPEN
    assert breaker.try_acquire_permission()
    assert breaker.state is HALF_OPEN
    assert recorder.transitions == [(CLOSED, OPEN), (OPEN, HALF_OPEN)]


def test_half_open_permits_a_fixed_number_of_trial_calls() -> None:
    """Exactly three trial calls pass; the fourth is refused."""
    breaker, clock, _ = make()
    open_breaker(breaker)
    clock.advance(30.0)
    assert [breaker.try_acquire_permission() for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    with pytest.raises(CallNotPermitted) as caught:
        breaker.acquire_permission()
    assert caught.value.state == "half_open"
    assert caught.value.retry_after_s == 1.0


def test_half_open_closes_after_healthy_trial_calls() -> None:
    """One failure in three trial calls (33%) closes the breaker after the third."""
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.advance(30.0)
    record(breaker, "SF")
    assert breaker.state is HALF_OPEN
    record(breaker, "S")
    assert breaker.state is CLOSED
    assert recorder.transitions[-1] == (HALF_OPEN, CLOSED)
    assert breaker.buffered_calls == 0


def test_half_open_reopens_after_failing_trial_calls() -> None:
    """Two failures in three trial calls (67%) open the breaker for another wait."""
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.advance(30.0)
    record(breaker, "FSF")
    assert breaker.state is OPEN
    assert recorder.transitions[-1] == (HALF_OPEN, OPEN)
    clock.advance(29.0)
    assert not breaker.try_acquire_permission()


def test_released_permission_returns_a_trial_slot() -> None:
    """A trial call that never ran gives its slot back."""
    breaker, clock, _ = make()
    open_breaker(breaker)
    clock.advance(30.0)
    for _ in range(3):
        assert breaker.try_acquire_permission()
    breaker.release_permission()
    assert breaker.try_acquire_permission()
    assert not breaker.try_acquire_permission()


@pytest.mark.parametrize(("gap_s", "expected"), [(9.0, OPEN), (10.0, CLOSED)])
def test_time_window_forgets_calls_older_than_its_size(
    gap_s: float, expected: BreakerState
) -> None:
    """Failures 10 s old have left a 10 s window; failures 9 s old have not."""
    settings = BreakerSettings(
        window_type=WindowType.TIME_BASED, window_size=10, minimum_calls=4
    )
    breaker, clock, _ = make(settings)
    record(breaker, "FFF")
    clock.advance(gap_s)
    record(breaker, "S")
    assert breaker.state is expected


def test_time_window_does_not_cap_minimum_calls() -> None:
    """A time window decides only once minimum_calls calls are inside it."""
    settings = BreakerSettings(
        window_type=WindowType.TIME_BASED, window_size=5, minimum_calls=20
    )
    breaker, _, _ = make(settings)
    record(breaker, "F" * 19)
    assert breaker.state is CLOSED
    record(breaker, "F")
    assert breaker.state is OPEN


def test_ignored_exceptions_are_not_recorded() -> None:
    """Exceptions declined by record_failure count neither way."""
    settings = BreakerSettings(
        window_size=10,
        minimum_calls=5,
        record_failure=lambda exc: not isinstance(exc, ValueError),
    )
    breaker, _, _ = make(settings)
    for _ in range(5):
        assert breaker.try_acquire_permission()
        breaker.on_error(0.01, ValueError("bad input"))
    assert breaker.buffered_calls == 0
    assert breaker.state is CLOSED


def test_forced_open_and_disabled_states() -> None:
    """Forced open refuses every call; disabled permits every call and records none."""
    breaker, _, _ = make()
    breaker.transition_to_forced_open()
    assert not breaker.try_acquire_permission()
    breaker.transition_to_disabled()
    record(breaker, "FFFFFF")
    assert breaker.state is BreakerState.DISABLED
    assert breaker.buffered_calls == 0


async def test_call_records_success_and_failure() -> None:
    """call() returns the result, and re-raises a failure after recording it."""
    breaker, _, _ = make()

    async def ok() -> str:
        return "sent"

    async def broken() -> str:
        raise ConnectionError("sms gateway down")

    assert await breaker.call(ok) == "sent"
    with pytest.raises(ConnectionError):
        await breaker.call(broken)
    assert breaker.buffered_calls == 2


async def test_call_timeout_counts_as_failure() -> None:
    """A call that outlives its timeout raises CallTimeout and is a failure."""
    breaker, _, _ = make()

    async def hang() -> None:
        await asyncio.Event().wait()

    for _ in range(5):
        with pytest.raises(CallTimeout) as caught:
            await breaker.call(hang, timeout_s=0.001)
    assert isinstance(caught.value, TimeoutError)
    assert breaker.state is OPEN


async def test_call_measures_duration_on_the_injected_clock() -> None:
    """A call that takes 3 virtual seconds is slow for a 2 s threshold."""
    settings = BreakerSettings(
        window_size=10,
        minimum_calls=1,
        slow_call_rate_threshold=100.0,
        slow_call_duration_s=2.0,
    )
    breaker, clock, _ = make(settings)

    async def slow() -> int:
        clock.advance(3.0)
        return 1

    await breaker.call(slow)
    assert breaker.state is OPEN


async def test_call_when_open_does_not_run_the_function() -> None:
    """An open breaker raises CallNotPermitted without calling the function."""
    breaker, _, _ = make()
    open_breaker(breaker)
    calls: list[int] = []

    async def fn() -> None:
        calls.append(1)

    with pytest.raises(CallNotPermitted):
        await breaker.call(fn)
    assert calls == []


async def test_cancelled_call_gives_back_its_trial_slot() -> None:
    """Cancelling a half-open trial call propagates and frees its slot."""
    breaker, clock, _ = make()
    open_breaker(breaker)
    clock.advance(30.0)
    started = asyncio.Event()

    async def wait_forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(breaker.call(wait_forever, timeout_s=60.0))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [breaker.try_acquire_permission() for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
