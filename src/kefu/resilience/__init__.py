"""Resilience primitives: adaptive limits, circuit breakers, bulkheads, retries.

Everything here is plain Python driven by an injectable
:class:`~kefu.resilience.clock.Clock`; nothing opens a socket or reads the
wall clock, so unit tests control time. Metrics are bound separately in
:mod:`kefu.observability.resilience_metrics`.
"""

from kefu.resilience.algorithms import (
    AIMDLimit,
    FixedLimit,
    Gradient2Limit,
    LimitAlgorithm,
    VegasLimit,
)
from kefu.resilience.breaker import (
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    WindowType,
)
from kefu.resilience.bulkhead import Bulkhead, BulkheadSettings
from kefu.resilience.clock import SYSTEM_CLOCK, Clock, MonotonicClock, VirtualClock
from kefu.resilience.errors import (
    BulkheadFull,
    CallNotPermitted,
    CallTimeout,
    LimitExceeded,
    Rejected,
    ResilienceError,
)
from kefu.resilience.limiter import (
    DEFAULT_PARTITIONS,
    AdaptiveLimiter,
    Listener,
    Partition,
    retry_after_seconds,
)
from kefu.resilience.retry import (
    RetryBudget,
    RetryBudgetSettings,
    RetrySettings,
    is_retriable,
    retrying,
    stop_when_budget_exhausted,
)
from kefu.resilience.windowed import WindowedLimit

__all__ = [
    "DEFAULT_PARTITIONS",
    "SYSTEM_CLOCK",
    "AIMDLimit",
    "AdaptiveLimiter",
    "BreakerSettings",
    "BreakerState",
    "Bulkhead",
    "BulkheadFull",
    "BulkheadSettings",
    "CallNotPermitted",
    "CallTimeout",
    "CircuitBreaker",
    "Clock",
    "FixedLimit",
    "Gradient2Limit",
    "LimitAlgorithm",
    "LimitExceeded",
    "Listener",
    "MonotonicClock",
    "Partition",
    "Rejected",
    "ResilienceError",
    "RetryBudget",
    "RetryBudgetSettings",
    "RetrySettings",
    "VegasLimit",
    "VirtualClock",
    "WindowType",
    "WindowedLimit",
    "is_retriable",
    "retry_after_seconds",
    "retrying",
    "stop_when_budget_exhausted",
]
