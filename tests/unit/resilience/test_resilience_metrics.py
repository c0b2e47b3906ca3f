"""Prometheus metrics bound to the resilience primitives."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from kefu.observability.resilience_metrics import ResilienceMetrics
from kefu.resilience.algorithms import FixedLimit
from kefu.resilience.breaker import BreakerSettings, CircuitBreaker
from kefu.resilience.bulkhead import Bulkhead, BulkheadSettings
from kefu.resilience.clock import VirtualClock
from kefu.resilience.errors import BulkheadFull
from kefu.resilience.limiter import AdaptiveLimiter
from kefu.resilience.retry import RetryBudget, RetryBudgetSettings


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """Read one sample from ``registry``."""
    return registry.get_sample_value(name, labels)


def test_limiter_metrics() -> None:
    """Limit and in-flight gauges follow the limiter; rejections count per partition."""
    registry = CollectorRegistry()
    metrics = ResilienceMetrics(registry)
    limiter = AdaptiveLimiter("api", FixedLimit(10), clock=VirtualClock())
    metrics.bind_limiter(limiter)
    for _ in range(9):
        limiter.try_acquire("history")
    assert value(registry, "kefu_limiter_limit", limiter="api") == 10.0
    assert value(registry, "kefu_limiter_inflight", limiter="api") == 8.0
    rejections = "kefu_limiter_rejections_total"
    assert value(registry, rejections, limiter="api", partition="history") == 1.0
    assert value(registry, rejections, limiter="api", partition="live") == 0.0


def test_breaker_metrics() -> None:
    """The state gauge reads 1 when open and transitions are counted by state."""
    registry = CollectorRegistry()
    metrics = ResilienceMetrics(registry)
    settings = BreakerSettings(window_size=2, minimum_calls=2)
    breaker = CircuitBreaker("sms", settings, clock=VirtualClock())
    metrics.bind_breaker(breaker)
    assert value(registry, "kefu_breaker_state", breaker="sms") == 0.0
    for _ in range(2):
        breaker.on_error(0.01, RuntimeError())
    assert value(registry, "kefu_breaker_state", breaker="sms") == 1.0
    transitions = value(
        registry,
        "kefu_breaker_transitions_total",
        breaker="sms",
        from_state="closed",
        to_state="open",
    )
    assert transitions == 1.0


async def test_bulkhead_and_retry_budget_metrics() -> None:
    """Bulkhead rejections and refused retries are counted by name."""
    registry = CollectorRegistry()
    metrics = ResilienceMetrics(registry)
    bulkhead = Bulkhead("sms", BulkheadSettings(max_concurrent=1))
    budget = RetryBudget(
        "sms", RetryBudgetSettings(min_retries_per_s=0.0), clock=VirtualClock()
    )
    metrics.bind_bulkhead(bulkhead)
    metrics.bind_retry_budget(budget)
    # One rejection from a full bulkhead.
    async with bulkhead.acquire():
        with pytest.raises(BulkheadFull):
            async with bulkhead.acquire():
                await asyncio.sleep(0)
    # One refused retry.
    budget.try_withdraw()
    assert value(registry, "kefu_bulkhead_rejections_total", bulkhead="sms") == 1.0
    exhausted = "kefu_retry_budget_exhausted_total"
    assert value(registry, exhausted, budget="sms") == 1.0
