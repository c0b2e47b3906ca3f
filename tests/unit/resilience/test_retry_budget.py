"""The retry budget and its use as a tenacity stop condition."""

from __future__ import annotations

import pytest

from kefu.resilience.clock import VirtualClock
from kefu.resilience.errors import CallNotPermitted, LimitExceeded
from kefu.resilience.retry import (
    RetryBudget,
    RetryBudgetSettings,
    RetrySettings,
    is_retriable,
    retrying,
)

NO_RESERVE = RetryBudgetSettings(ttl_s=10.0, min_retries_per_s=0.0)


class Sleeps:
    """A fake sleep that records the waits tenacity asks for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def budget_with(
    deposits: int, settings: RetryBudgetSettings = NO_RESERVE
) -> RetryBudget:
    """A budget on a virtual clock after ``deposits`` original requests."""
    budget = RetryBudget("sms", settings, clock=VirtualClock())
    for _ in range(deposits):
        budget.deposit()
    return budget


def test_budget_allows_a_fifth_of_recent_requests() -> None:
    """Ten requests earn two retries; the third retry is refused."""
    budget = budget_with(10)
    assert [budget.try_withdraw() for _ in range(3)] == [True, True, False]
    assert budget.exhausted == 1


def test_budget_deposits_expire_after_ttl() -> None:
    """Deposits still count 9.9 s later and are gone after 10 s."""
    clock = VirtualClock()
    budget = RetryBudget("sms", NO_RESERVE, clock=clock)
    for _ in range(10):
        budget.deposit()
    clock.advance(9.9)
    assert budget.balance == pytest.approx(2.0)
    clock.advance(0.1)
    assert budget.balance == pytest.approx(0.0)


def test_budget_withdrawals_expire_after_ttl() -> None:
    """Retries spent from the reserve are available again a ttl later."""
    clock = VirtualClock()
    settings = RetryBudgetSettings(ttl_s=10.0, min_retries_per_s=0.1)
    budget = RetryBudget("sms", settings, clock=clock)
    assert budget.balance == pytest.approx(1.0)
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    clock.advance(10.0)
    assert budget.try_withdraw()


def test_default_budget_has_a_reserve_of_ten_retries_per_second() -> None:
    """Finagle's defaults give 100 retries over a 10 s ttl before any request."""
    budget = RetryBudget("sms", clock=VirtualClock())
    assert budget.balance == pytest.approx(100.0)


def test_exhausted_listener_is_called() -> None:
    """Every refused retry is reported with the budget name."""
    budget = budget_with(0)
    refused: list[str] = []
    budget.add_exhausted_listener(refused.append)
    budget.try_withdraw()
    assert refused == ["sms"]


async def test_retries_stop_once_the_budget_is_exhausted() -> None:
    """With 2.2 tokens a failing call is tried 3 times of 5 allowed, then re-raised."""
    budget = budget_with(10)
    sleeps = Sleeps()
    attempts: list[int] = []

    async def failing() -> None:
        attempts.append(1)
        raise ConnectionError("gateway down")

    policy = retrying(budget, RetrySettings(max_attempts=5), sleep=sleeps)
    with pytest.raises(ConnectionError):
        await policy(failing)
    assert len(attempts) == 3
    assert budget.exhausted == 1
    assert budget.balance == pytest.approx(0.2)
    # Full-jitter waits stay under 0.1 s and 0.2 s.
    assert len(sleeps.waits) == 2
    assert 0.0 <= sleeps.waits[0] <= 0.1
    assert 0.0 <= sleeps.waits[1] <= 0.2


async def test_empty_budget_allows_no_retry() -> None:
    """A first request on an empty budget is tried once."""
    budget = budget_with(0)
    attempts: list[int] = []

    async def failing() -> None:
        attempts.append(1)
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await retrying(budget, sleep=Sleeps())(failing)
    assert attempts == [1]


async def test_last_attempt_spends_no_token() -> None:
    """Stopping at max_attempts withdraws only for the retries actually made."""
    budget = budget_with(0, RetryBudgetSettings(ttl_s=10.0, min_retries_per_s=1.0))
    attempts: list[int] = []

    async def failing() -> None:
        attempts.append(1)
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await retrying(budget, RetrySettings(max_attempts=3), sleep=Sleeps())(failing)
    assert len(attempts) == 3
    assert budget.balance == pytest.approx(10.0 + 0.2 - 2.0)


async def test_success_after_retry_returns_the_result() -> None:
    """A call that fails once and then succeeds returns its value."""
    budget = budget_with(10)
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError
        return "ok"

    assert await retrying(budget, sleep=Sleeps())(flaky) == "ok"
    assert len(attempts) == 2


async def test_non_retriable_error_is_not_retried() -> None:
    """A ValueError is raised after one attempt and spends nothing."""
    budget = budget_with(10)
    attempts: list[int] = []

    async def invalid() -> None:
        attempts.append(1)
        raise ValueError("bad phone number")

    with pytest.raises(ValueError):
        await retrying(budget, sleep=Sleeps())(invalid)
    assert attempts == [1]
    assert budget.balance == pytest.approx(2.2)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError(), True),
        (ConnectionError(), True),
        (ValueError(), False),
        (LimitExceeded("api", "live", retry_after_s=1.0), True),
        (CallNotPermitted("sms", "open", retry_after_s=1.0), False),
    ],
)
def test_is_retriable_follows_the_error_class(
    exc: BaseException, expected: bool
) -> None:
    """Retriability comes from the exception class."""
    assert is_retriable(exc) is expected
