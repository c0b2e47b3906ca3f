"""Windowed sampling: one aggregate per window reaches the wrapped algorithm."""

from __future__ import annotations

import pytest

from kefu.resilience.windowed import SampleWindow, WindowedLimit


class RecordingLimit:
    """A limit algorithm that records every sample it is given."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, int, bool]] = []

    @property
    def limit(self) -> int:
        return 10

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        self.samples.append((start_time, rtt, inflight, did_drop))
        return 10


def open_first_window(windowed: WindowedLimit) -> None:
    """Send the first sample, which closes the empty initial window at t=0.01."""
    windowed.on_sample(0.0, 0.010, 1, False)


def test_first_window_is_too_small_to_reach_the_algorithm() -> None:
    """A window of one sample is discarded rather than passed on."""
    delegate = RecordingLimit()
    windowed = WindowedLimit(delegate)
    open_first_window(windowed)
    assert delegate.samples == []


def test_window_passes_average_rtt_max_inflight_and_drop() -> None:
    """Ten samples within a second reach the algorithm as their average."""
    delegate = RecordingLimit()
    windowed = WindowedLimit(delegate)
    open_first_window(windowed)
    # Nine samples inside the window (it ends at 1.01 s), one of them dropped.
    for i in range(9):
        windowed.on_sample(0.1 * (i + 1), 0.020, i + 1, did_drop=(i == 4))
    assert delegate.samples == []
    # The tenth ends after 1.01 s and closes the window.
    windowed.on_sample(1.0, 0.050, 3, False)
    assert len(delegate.samples) == 1
    start, rtt, inflight, dropped = delegate.samples[0]
    assert (start, inflight, dropped) == (1.0, 9, True)
    assert rtt == pytest.approx((9 * 0.020 + 0.050) / 10)


def test_window_with_too_few_samples_is_discarded() -> None:
    """A window closing with five samples does not reach the algorithm."""
    delegate = RecordingLimit()
    windowed = WindowedLimit(delegate)
    open_first_window(windowed)
    for i in range(4):
        windowed.on_sample(0.1 * (i + 1), 0.020, 1, False)
    windowed.on_sample(1.0, 0.050, 1, False)
    assert delegate.samples == []


def test_samples_under_min_rtt_threshold_are_ignored() -> None:
    """Samples faster than 100 µs neither count nor close a window."""
    delegate = RecordingLimit()
    windowed = WindowedLimit(delegate)
    open_first_window(windowed)
    for i in range(9):
        windowed.on_sample(0.1 * (i + 1), 0.020, 1, False)
    # A fast sample past the window end is ignored, so the window stays open.
    windowed.on_sample(2.0, 0.00005, 1, False)
    assert delegate.samples == []
    windowed.on_sample(2.0, 0.020, 1, False)
    assert len(delegate.samples) == 1


def test_percentile_aggregation_uses_nearest_rank() -> None:
    """With aggregate='percentile' the window passes its p90 RTT."""
    delegate = RecordingLimit()
    windowed = WindowedLimit(delegate, aggregate="percentile", percentile=0.9)
    open_first_window(windowed)
    for i in range(9):
        windowed.on_sample(0.1 * (i + 1), 0.001 * (i + 1), 1, False)
    windowed.on_sample(1.0, 0.050, 1, False)
    # RTTs are 1..9 ms and 50 ms; the 9th of 10 sorted is 9 ms.
    assert delegate.samples[0][1] == pytest.approx(0.009)


def test_sample_window_percentile_rounds_half_up() -> None:
    """The rank of p25 over ten samples is 3 (2.5 rounded up)."""
    window = SampleWindow()
    for rtt in range(1, 11):
        window.add(float(rtt), 1, False)
    assert window.percentile_rtt(0.25) == 3.0
    assert window.average_rtt() == 5.5
    assert window.min_rtt == 1.0


def test_windowed_limit_rejects_tiny_windows() -> None:
    """Windows shorter than 0.1 s or smaller than ten samples are refused."""
    with pytest.raises(ValueError):
        WindowedLimit(RecordingLimit(), min_window_s=0.01)
    with pytest.raises(ValueError):
        WindowedLimit(RecordingLimit(), window_size=5)
