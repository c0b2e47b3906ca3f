"""Retries with jittered exponential backoff, bounded by a retry budget.

The retry loop is tenacity's; kefu adds only :class:`RetryBudget`, a token
bucket in the manner of Finagle's ``com.twitter.finagle.service.RetryBudget``
(``TokenRetryBudget`` over a ``LeakyTokenBucket``). Every original request
deposits ``percent_can_retry`` of a token, every retry withdraws a whole one,
and both expire after ``ttl_s``; a fixed reserve of
``min_retries_per_s * ttl_s`` tokens lets a quiet service retry at all. So
over any ``ttl_s`` window, retries stay below ``percent_can_retry`` of the
requests plus the reserve, and a failing dependency is not hit by a storm of
retries on top of its normal load.

The budget plugs into tenacity as a stop condition
(:class:`stop_when_budget_exhausted`), consulted only when tenacity would
otherwise retry, and as a ``before`` hook that deposits on first attempts.
:func:`retrying` builds the whole policy.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from kefu.resilience.clock import SYSTEM_CLOCK, Clock
from kefu.resilience.errors import ResilienceError

__all__ = [
    "RetryBudget",
    "RetryBudgetSettings",
    "RetrySettings",
    "is_retriable",
    "retrying",
    "stop_when_budget_exhausted",
]

logger = logging.getLogger(__name__)

ExhaustedListener = Callable[[str], None]
"""Called with the budget name whenever a retry is refused."""

_SLOTS_PER_TTL = 10
_SCALE = 1000
"""Tokens are counted in thousandths so that fractions add up exactly."""


@dataclass(frozen=True)
class RetryBudgetSettings:
    """The settings of a retry budget (defaults are Finagle's)."""

    ttl_s: float = 10.0
    min_retries_per_s: float = 10.0
    percent_can_retry: float = 0.2

    def __post_init__(self) -> None:
        if self.ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if self.min_retries_per_s < 0:
            raise ValueError("min_retries_per_s must not be negative")
        if not 0.0 <= self.percent_can_retry <= 1.0:
            raise ValueError("percent_can_retry must be in [0, 1]")


class RetryBudget:
    """A token bucket that caps retries at a fraction of recent requests."""

    def __init__(
        self,
        name: str,
        settings: RetryBudgetSettings | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self.settings = settings or RetryBudgetSettings()
        self._clock = clock
        self._slot_s = self.settings.ttl_s / _SLOTS_PER_TTL
        self._reserve = round(
            self.settings.min_retries_per_s * self.settings.ttl_s * _SCALE
        )
        self._deposit = round(self.settings.percent_can_retry * _SCALE)
        self._slots: deque[list[int]] = deque()
        self._exhausted = 0
        self._listeners: list[ExhaustedListener] = []

    @property
    def balance(self) -> float:
        """Retries the budget would allow now (fractional tokens included)."""
        return self._tokens() / _SCALE

    @property
    def exhausted(self) -> int:
        """Retries refused since the budget was created."""
        return self._exhausted

    def add_exhausted_listener(self, listener: ExhaustedListener) -> None:
        """Call ``listener(name)`` whenever a retry is refused."""
        self._listeners.append(listener)

    def deposit(self) -> None:
        """Credit one original request."""
        self._add(self._deposit)

    def try_withdraw(self) -> bool:
        """Take the token for one retry; return False when there is none."""
        # Spend a whole token when the balance holds one.
        if self._tokens() >= _SCALE:
            self._add(-_SCALE)
            return True
        # Otherwise record the refusal.
        self._exhausted += 1
        logger.debug("retry budget %s exhausted", self.name)
        for listener in self._listeners:
            listener(self.name)
        return False

    def _tokens(self) -> int:
        return self._reserve + sum(slot[1] for slot in self._current_slots())

    def _add(self, amount: int) -> None:
        slot = math.floor(self._clock.monotonic() / self._slot_s)
        slots = self._current_slots()
        if not slots or slots[-1][0] != slot:
            slots.append([slot, 0])
        slots[-1][1] += amount

    def _current_slots(self) -> deque[list[int]]:
        # Forget slots older than the time to live.
        now_slot = math.floor(self._clock.monotonic() / self._slot_s)
        while self._slots and self._slots[0][0] <= now_slot - _SLOTS_PER_TTL:
            self._slots.popleft()
        return self._slots


class stop_when_budget_exhausted(stop_base):
    """A tenacity stop condition that spends one budget token per retry.

    Named in lowercase like the stop conditions tenacity ships.
    """

    def __init__(self, budget: RetryBudget) -> None:
        self._budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        """Stop when the budget has no token left for this retry."""
        return not self._budget.try_withdraw()


def _deposit_on_first_attempt(budget: RetryBudget) -> Callable[[RetryCallState], None]:
    def before(retry_state: RetryCallState) -> None:
        if retry_state.attempt_number == 1:
            budget.deposit()

    return before


def is_retriable(exc: BaseException) -> bool:
    """Return whether trying again may help: timeouts, connection errors and
    kefu errors whose class is marked ``retriable``."""
    if isinstance(exc, ResilienceError):
        return exc.retriable
    return isinstance(exc, TimeoutError | ConnectionError)


@dataclass(frozen=True)
class RetrySettings:
    """How often and how far apart a call is retried.

    Waits are "full jitter": uniformly random up to
    ``initial_backoff_s * 2 ** (attempt - 1)``, capped at ``max_backoff_s``.
    """

    max_attempts: int = 3
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    retry_on: Callable[[BaseException], bool] = is_retriable


def retrying(
    budget: RetryBudget,
    settings: RetrySettings | None = None,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncRetrying:
    """Build a tenacity ``AsyncRetrying`` bounded by attempts and ``budget``.

    The last exception is re-raised when retrying stops. ``sleep`` is
    replaceable so tests do not wait.
    """
    settings = settings or RetrySettings()
    return AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(settings.max_attempts)
        | stop_when_budget_exhausted(budget),
        wait=wait_random_exponential(
            multiplier=settings.initial_backoff_s, max=settings.max_backoff_s
        ),
        retry=retry_if_exception(settings.retry_on),
        before=_deposit_on_first_attempt(budget),
        reraise=True,
    )
