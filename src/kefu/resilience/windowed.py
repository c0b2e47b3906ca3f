"""Windowed sampling in front of a limit algorithm.

:class:`WindowedLimit` follows concurrency-limits'
``com.netflix.concurrency.limits.limit.WindowedLimit``: samples are gathered
into a window and the wrapped algorithm sees one aggregate per window, which
filters out the noise of single requests. Aggregation is either the average
RTT (``window.ImmutableAverageSampleWindow``) or a percentile
(``window.ImmutablePercentileSampleWindow``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from kefu.resilience.algorithms import LimitAlgorithm

__all__ = ["SampleWindow", "WindowedLimit"]


@dataclass
class SampleWindow:
    """The samples of one window and what the wrapped algorithm needs of them."""

    rtts: list[float] = field(default_factory=list)
    max_inflight: int = 0
    did_drop: bool = False

    def add(self, rtt: float, inflight: int, did_drop: bool) -> None:
        """Add one sample to the window."""
        self.rtts.append(rtt)
        self.max_inflight = max(self.max_inflight, inflight)
        self.did_drop = self.did_drop or did_drop

    @property
    def count(self) -> int:
        """Number of samples in the window."""
        return len(self.rtts)

    @property
    def min_rtt(self) -> float:
        """Lowest RTT of the window in seconds (infinite when empty)."""
        return min(self.rtts, default=math.inf)

    def average_rtt(self) -> float:
        """Mean RTT of the window in seconds."""
        return sum(self.rtts) / len(self.rtts)

    def percentile_rtt(self, percentile: float) -> float:
        """The RTT at ``percentile`` (0 to 1): nearest rank, halves rounded up."""
        ordered = sorted(self.rtts)
        rank = max(1, math.floor(len(ordered) * percentile + 0.5))
        return ordered[rank - 1]


class WindowedLimit:
    """Feeds a limit algorithm one aggregated sample per window.

    Samples faster than ``min_rtt_threshold_s`` (100 µs) are ignored. A window
    closes on the first sample ending after its end time; the next window then
    lasts twice the closed window's lowest RTT, bounded to
    ``[min_window_s, max_window_s]`` (both 1 s). A closed window with at least
    ``window_size`` samples (10) reaches the algorithm as its average RTT (or
    the RTT at ``percentile`` when ``aggregate="percentile"``), its highest
    in-flight count and whether any sample dropped.
    """

    def __init__(
        self,
        delegate: LimitAlgorithm,
        *,
        min_window_s: float = 1.0,
        max_window_s: float = 1.0,
        window_size: int = 10,
        min_rtt_threshold_s: float = 100e-6,
        aggregate: Literal["average", "percentile"] = "average",
        percentile: float = 0.99,
    ) -> None:
        # Validate the bounds that keep a window meaningful.
        if min_window_s < 0.1 or max_window_s < 0.1:
            raise ValueError("window durations must be at least 0.1 s")
        if window_size < 10:
            raise ValueError("window_size must be at least 10")
        if not 0.0 < percentile <= 1.0:
            raise ValueError("percentile must be in (0, 1]")
        self._delegate = delegate
        self._min_window_s = min_window_s
        self._max_window_s = max_window_s
        self._window_size = window_size
        self._min_rtt_threshold_s = min_rtt_threshold_s
        self._aggregate = aggregate
        self._percentile = percentile
        self._window = SampleWindow()
        self._next_update_s = -math.inf

    @property
    def limit(self) -> int:
        """The wrapped algorithm's current limit."""
        return self._delegate.limit

    @property
    def delegate(self) -> LimitAlgorithm:
        """The wrapped algorithm."""
        return self._delegate

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        """Add a sample; when it closes the window, pass the aggregate on."""
        # Ignore samples too fast to carry information (cache hits and such).
        if rtt < self._min_rtt_threshold_s:
            return self.limit
        self._window.add(rtt, inflight, did_drop)
        # Close the window once a sample ends past its end time.
        end_time = start_time + rtt
        if end_time <= self._next_update_s:
            return self.limit
        closed, self._window = self._window, SampleWindow()
        duration_s = min(
            max(closed.min_rtt * 2, self._min_window_s), self._max_window_s
        )
        self._next_update_s = end_time + duration_s
        # Only a window with enough samples reaches the algorithm.
        if closed.count < self._window_size:
            return self.limit
        return self._delegate.on_sample(
            start_time, self._tracked_rtt(closed), closed.max_inflight, closed.did_drop
        )

    def _tracked_rtt(self, window: SampleWindow) -> float:
        if self._aggregate == "percentile":
            return window.percentile_rtt(self._percentile)
        return window.average_rtt()
