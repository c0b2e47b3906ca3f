"""Prometheus metrics for the resilience primitives.

The primitives in :mod:`kefu.resilience` know nothing of Prometheus; they
expose read-only properties and listener hooks. :class:`ResilienceMetrics`
binds them to these metrics (names and labels are a stable interface):

==================================  =======  ==============================
metric                              type     labels
==================================  =======  ==============================
``kefu_limiter_limit``              gauge    ``limiter``
``kefu_limiter_inflight``           gauge    ``limiter``
``kefu_limiter_rejections_total``   counter  ``limiter``, ``partition``
``kefu_breaker_state``              gauge    ``breaker``
``kefu_breaker_transitions_total``  counter  ``breaker``, ``from_state``,
                                             ``to_state``
``kefu_bulkhead_rejections_total``  counter  ``bulkhead``
``kefu_retry_budget_exhausted_total``  counter  ``budget``
==================================  =======  ==============================

``kefu_breaker_state`` is 0 closed, 1 open, 2 half-open, 3 forced open,
4 disabled.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from kefu.resilience.breaker import BreakerState, CircuitBreaker
from kefu.resilience.bulkhead import Bulkhead
from kefu.resilience.limiter import AdaptiveLimiter
from kefu.resilience.retry import RetryBudget

__all__ = ["ResilienceMetrics"]


class ResilienceMetrics:
    """Creates the resilience metrics in one registry and binds primitives."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.limiter_limit = Gauge(
            "kefu_limiter_limit",
            "Current adaptive concurrency limit.",
            ["limiter"],
            registry=registry,
        )
        self.limiter_inflight = Gauge(
            "kefu_limiter_inflight",
            "Requests admitted by the limiter and not yet finished.",
            ["limiter"],
            registry=registry,
        )
        self.limiter_rejections = Counter(
            "kefu_limiter_rejections",
            "Requests rejected by the limiter.",
            ["limiter", "partition"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "kefu_breaker_state",
            "Breaker state: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled.",
            ["breaker"],
            registry=registry,
        )
        self.breaker_transitions = Counter(
            "kefu_breaker_transitions",
            "Breaker state transitions.",
            ["breaker", "from_state", "to_state"],
            registry=registry,
        )
        self.bulkhead_rejections = Counter(
            "kefu_bulkhead_rejections",
            "Calls refused by a full bulkhead.",
            ["bulkhead"],
            registry=registry,
        )
        self.retry_budget_exhausted = Counter(
            "kefu_retry_budget_exhausted",
            "Retries refused because the retry budget was empty.",
            ["budget"],
            registry=registry,
        )

    def bind_limiter(self, limiter: AdaptiveLimiter) -> None:
        """Export the limiter's limit, in-flight count and rejections."""
        # Gauges read the limiter when scraped.
        name = limiter.name
        self.limiter_limit.labels(limiter=name).set_function(lambda: limiter.limit)
        self.limiter_inflight.labels(limiter=name).set_function(
            lambda: limiter.inflight
        )
        # Create every partition's series at zero, then count rejections.
        for partition in limiter.partition_names:
            self.limiter_rejections.labels(limiter=name, partition=partition)
        limiter.add_reject_listener(
            lambda partition: self.limiter_rejections.labels(
                limiter=name, partition=partition
            ).inc()
        )

    def bind_breaker(self, breaker: CircuitBreaker) -> None:
        """Export the breaker's state and count its transitions."""
        self.breaker_state.labels(breaker=breaker.name).set(breaker.state.value)
        breaker.add_transition_listener(self._on_transition)

    def bind_bulkhead(self, bulkhead: Bulkhead) -> None:
        """Count the bulkhead's rejections."""
        self.bulkhead_rejections.labels(bulkhead=bulkhead.name)
        bulkhead.add_reject_listener(
            lambda name: self.bulkhead_rejections.labels(bulkhead=name).inc()
        )

    def bind_retry_budget(self, budget: RetryBudget) -> None:
        """Count the retries the budget refused."""
        self.retry_budget_exhausted.labels(budget=budget.name)
        budget.add_exhausted_listener(
            lambda name: self.retry_budget_exhausted.labels(budget=name).inc()
        )

    def _on_transition(
        self, name: str, from_state: BreakerState, to_state: BreakerState
    ) -> None:
        self.breaker_state.labels(breaker=name).set(to_state.value)
        self.breaker_transitions.labels(
            breaker=name, from_state=from_state.label, to_state=to_state.label
        ).inc()
