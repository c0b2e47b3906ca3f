"""Adaptive concurrency-limit algorithms: AIMD, Vegas and Gradient2.

Each algorithm keeps the rules and defaults of the matching class in Netflix's
concurrency-limits library (package ``com.netflix.concurrency.limits.limit``),
restated for kefu in seconds instead of nanoseconds. They are pure: no clock,
no I/O, no locks; :meth:`LimitAlgorithm.on_sample` takes one measurement and
returns the new limit. :class:`kefu.resilience.windowed.WindowedLimit` feeds
them one aggregate per sampling window, and
:class:`kefu.resilience.limiter.AdaptiveLimiter` applies the limit.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import Protocol

__all__ = [
    "AIMDLimit",
    "FixedLimit",
    "Gradient2Limit",
    "LimitAlgorithm",
    "VegasLimit",
    "log10_root",
]

logger = logging.getLogger(__name__)

LimitFunction = Callable[[int], int]
"""Maps the current (integer) limit to an integer such as a queue size."""


class LimitAlgorithm(Protocol):
    """An algorithm that turns latency samples into a concurrency limit."""

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        ...

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        """Record one sample and return the new limit.

        ``start_time`` and ``rtt`` are in seconds; ``inflight`` is the number
        of requests in flight when the measured one started; ``did_drop``
        tells whether it was dropped (timed out or failed from overload).
        """
        ...


def log10_root(limit: int) -> int:
    """Return ``max(1, floor(log10(limit)))`` below 1000, ``floor(sqrt)`` above.

    Vegas sizes its thresholds and steps with it so that they grow slowly with
    the limit (concurrency-limits' ``functions.Log10RootFunction``).
    """
    # Small limits get a step of one.
    if limit < 10:
        return 1
    # Up to 1000 the step is the number of decimal digits minus one.
    if limit < 1000:
        return int(math.log10(limit))
    return int(math.sqrt(limit))


class FixedLimit:
    """A limit that never changes; for tests and for pinning a limit by hand."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    @property
    def limit(self) -> int:
        """The fixed limit."""
        return self._limit

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        """Ignore the sample and return the fixed limit."""
        return self._limit


class AIMDLimit:
    """Additive increase, multiplicative decrease on drops.

    Same rules and defaults as
    ``com.netflix.concurrency.limits.limit.AIMDLimit``: on a drop, or an RTT
    above ``timeout_s`` (5 s), the limit is multiplied by ``backoff_ratio``
    (0.9) and truncated; otherwise it grows by one when the limiter is at
    least half used (``inflight * 2 >= limit``). The result is kept within
    ``[min_limit, max_limit]`` (20 and 200); the initial limit is 20.
    """

    def __init__(
        self,
        *,
        initial_limit: int = 20,
        min_limit: int = 20,
        max_limit: int = 200,
        backoff_ratio: float = 0.9,
        timeout_s: float = 5.0,
    ) -> None:
        # Validate the ranges the algorithm relies on.
        if not 0.5 <= backoff_ratio < 1.0:
            raise ValueError("backoff_ratio must be in [0.5, 1.0)")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._limit = initial_limit
        self._min_limit = min_limit
        self._max_limit = max_limit
        self._backoff_ratio = backoff_ratio
        self._timeout_s = timeout_s

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return self._limit

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        """Back off on a drop or a timeout, grow by one when half used."""
        # A drop, or a sample slower than the timeout, backs the limit off.
        new_limit = self._limit
        if did_drop or rtt > self._timeout_s:
            new_limit = int(self._limit * self._backoff_ratio)
        # A well-used limiter that is not dropping may take one more request.
        elif inflight * 2 >= self._limit:
            new_limit = self._limit + 1
        # Keep the limit within its bounds.
        new_limit = min(self._max_limit, max(self._min_limit, new_limit))
        if new_limit != self._limit:
            logger.debug("aimd limit %d -> %d", self._limit, new_limit)
        self._limit = new_limit
        return new_limit


class VegasLimit:
    """Delay-based limit modelled on TCP Vegas.

    Same rules and defaults as ``com.netflix.concurrency.limits.limit.VegasLimit``.
    It keeps the lowest RTT seen (``rtt_noload``) and estimates the queue as
    ``ceil(limit * (1 - rtt_noload / rtt))``. With ``L = log10_root(limit)``:
    a drop decreases the limit by ``L``; a limiter used less than half is left
    alone; otherwise a queue ``<= L`` (threshold) grows the limit by ``6 L``
    (beta), a queue ``< 3 L`` (alpha) grows it by ``L``, a queue ``> 6 L``
    shrinks it by ``L``, and anything between is left alone. The new limit is
    kept in ``[1, max_limit]`` (1000) and smoothed (1.0, so no smoothing).
    Every ``jitter * probe_multiplier * limit`` samples (30, jitter drawn in
    ``[0.5, 1)``) the next RTT replaces ``rtt_noload`` so the baseline can
    rise again. The initial limit is 20.
    """

    def __init__(
        self,
        *,
        initial_limit: int = 20,
        max_limit: int = 1000,
        smoothing: float = 1.0,
        probe_multiplier: int = 30,
        alpha: LimitFunction = lambda limit: 3 * log10_root(limit),
        beta: LimitFunction = lambda limit: 6 * log10_root(limit),
        threshold: LimitFunction = log10_root,
        rng: random.Random | None = None,
    ) -> None:
        self._estimated = float(initial_limit)
        self._max_limit = max_limit
        self._smoothing = smoothing
        self._probe_multiplier = probe_multiplier
        self._alpha = alpha
        self._beta = beta
        self._threshold = threshold
        self._rng = rng if rng is not None else random.Random()
        self._rtt_noload = 0.0
        self._probe_count = 0
        self._probe_jitter = self._draw_jitter()

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return int(self._estimated)

    @property
    def rtt_noload(self) -> float:
        """The baseline (lowest recent) RTT in seconds; 0 before any sample."""
        return self._rtt_noload

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        """Update the baseline RTT or the limit from one sample."""
        if rtt <= 0:
            raise ValueError("rtt must be positive")
        # Periodically take the next RTT as the new baseline.
        self._probe_count += 1
        if self._should_probe():
            logger.debug("vegas probe rtt_noload %.6f s", rtt)
            self._probe_jitter = self._draw_jitter()
            self._probe_count = 0
            self._rtt_noload = rtt
            return self.limit
        # A new lowest RTT only moves the baseline.
        if self._rtt_noload == 0 or rtt < self._rtt_noload:
            self._rtt_noload = rtt
            return self.limit
        return self._update_limit(rtt, inflight, did_drop)

    def _draw_jitter(self) -> float:
        return self._rng.uniform(0.5, 1.0)

    def _should_probe(self) -> bool:
        budget = self._probe_jitter * self._probe_multiplier * self._estimated
        return budget <= self._probe_count

    def _update_limit(self, rtt: float, inflight: int, did_drop: bool) -> int:
        # A drop always shrinks the limit.
        current = int(self._estimated)
        if did_drop:
            target = self._estimated - log10_root(current)
        # An under-used limiter gives no evidence to grow on.
        elif inflight * 2 < self._estimated:
            return current
        else:
            queue = math.ceil(self._estimated * (1 - self._rtt_noload / rtt))
            target_or_none = self._target_for_queue(queue)
            if target_or_none is None:
                return current
            target = target_or_none
        # Bound, smooth and store the new limit.
        target = max(1.0, min(float(self._max_limit), target))
        new = (1 - self._smoothing) * self._estimated + self._smoothing * target
        if int(new) != current:
            logger.debug("vegas limit %d -> %d", current, int(new))
        self._estimated = new
        return int(new)

    def _target_for_queue(self, queue: int) -> float | None:
        current = int(self._estimated)
        # No queueing at all: grow aggressively.
        if queue <= self._threshold(current):
            return self._estimated + self._beta(current)
        # A small queue: grow by one step.
        if queue < self._alpha(current):
            return self._estimated + log10_root(current)
        # A long queue: shrink by one step.
        if queue > self._beta(current):
            return self._estimated - log10_root(current)
        # Between alpha and beta: the limit is right.
        return None


class _ExponentialAverage:
    """An exponential moving average over ``window`` samples, after a warm-up.

    The first ``warmup`` samples are averaged plainly; later ones weigh
    ``2 / (window + 1)`` (concurrency-limits' ``ExpAvgMeasurement``).
    """

    def __init__(self, window: int, warmup: int) -> None:
        self._factor = 2.0 / (window + 1)
        self._warmup = warmup
        self._count = 0
        self._sum = 0.0
        self.value = 0.0

    def add(self, sample: float) -> float:
        # Plain mean during the warm-up, then exponential smoothing.
        if self._count < self._warmup:
            self._count += 1
            self._sum += sample
            self.value = self._sum / self._count
        else:
            self.value = self.value * (1 - self._factor) + sample * self._factor
        return self.value


class Gradient2Limit:
    """Limit driven by the ratio of a long-term to the current RTT.

    Same rules and defaults as
    ``com.netflix.concurrency.limits.limit.Gradient2Limit``. The long RTT is an
    exponential average over ``long_window`` samples (600, after 10 warm-up
    samples); the short RTT is the sample itself. When the long RTT exceeds
    twice the short one, it is multiplied by 0.95 so the baseline recovers
    quickly after a period of overload. A limiter used less than half keeps its
    limit. Otherwise ``gradient = clamp(rtt_tolerance * long / short, 0.5,
    1.0)`` (tolerance 1.5), the target is ``limit * gradient + queue_size``
    (4), smoothed as ``limit * (1 - smoothing) + target * smoothing`` (0.2) and
    kept within ``[min_limit, max_limit]`` (20 and 200). The initial limit is 20.
    """

    def __init__(
        self,
        *,
        initial_limit: int = 20,
        min_limit: int = 20,
        max_limit: int = 200,
        smoothing: float = 0.2,
        rtt_tolerance: float = 1.5,
        long_window: int = 600,
        queue_size: LimitFunction = lambda limit: 4,
    ) -> None:
        if rtt_tolerance < 1.0:
            raise ValueError("rtt_tolerance must be >= 1.0")
        self._estimated = float(initial_limit)
        self._min_limit = min_limit
        self._max_limit = max_limit
        self._smoothing = smoothing
        self._tolerance = rtt_tolerance
        self._queue_size = queue_size
        self._long_rtt = _ExponentialAverage(long_window, warmup=10)
        self._last_rtt = 0.0

    @property
    def limit(self) -> int:
        """The current concurrency limit."""
        return int(self._estimated)

    @property
    def long_rtt(self) -> float:
        """The long-term average RTT in seconds."""
        return self._long_rtt.value

    @property
    def last_rtt(self) -> float:
        """The most recent (short-term) RTT in seconds."""
        return self._last_rtt

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        """Move the limit along the gradient between long and short RTT."""
        if rtt <= 0:
            raise ValueError("rtt must be positive")
        # Update both RTT measurements.
        queue_size = self._queue_size(int(self._estimated))
        self._last_rtt = rtt
        long_rtt = self._long_rtt.add(rtt)
        # After overload the baseline lags far above the sample: let it fall.
        if long_rtt / rtt > 2:
            self._long_rtt.value = long_rtt * 0.95
        # An under-used limiter gives no evidence to move on.
        if inflight < self._estimated / 2:
            return int(self._estimated)
        # Apply the gradient, leave room for a queue, smooth and bound.
        gradient = max(0.5, min(1.0, self._tolerance * long_rtt / rtt))
        target = self._estimated * gradient + queue_size
        new = self._estimated * (1 - self._smoothing) + target * self._smoothing
        new = max(float(self._min_limit), min(float(self._max_limit), new))
        if int(new) != int(self._estimated):
            logger.debug(
                "gradient2 limit %d -> %d short_rtt %.6f s long_rtt %.6f s",
                int(self._estimated),
                int(new),
                rtt,
                long_rtt,
            )
        self._estimated = new
        return int(new)
