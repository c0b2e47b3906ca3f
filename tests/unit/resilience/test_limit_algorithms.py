"""Recorded sequences of samples in, limits out, for AIMD, Vegas and Gradient2."""

from __future__ import annotations

import random

import pytest

from kefu.resilience.algorithms import (
    AIMDLimit,
    Gradient2Limit,
    VegasLimit,
    log10_root,
)

Sample = tuple[float, int, bool]
"""(rtt in seconds, in flight, dropped)"""


def replay(
    algorithm: AIMDLimit | VegasLimit | Gradient2Limit, samples: list[Sample]
) -> list[int]:
    """Feed samples one by one and collect the limit after each."""
    return [
        algorithm.on_sample(0.0, rtt, inflight, drop) for rtt, inflight, drop in samples
    ]


class _FixedJitter(random.Random):
    """A random source whose uniform draws always return the lower bound."""

    def uniform(self, a: float, b: float) -> float:
        return a


# AIMD


def test_aimd_increases_when_used_then_backs_off_on_drop_and_timeout() -> None:
    """AIMD grows by one when half used, holds when idle, backs off by 0.9."""
    aimd = AIMDLimit(initial_limit=10, min_limit=1)
    samples: list[Sample] = [
        (0.01, 5, False),
        (0.01, 6, False),
        (0.01, 2, False),
        (0.01, 6, True),
        (6.0, 6, False),
    ]
    assert replay(aimd, samples) == [11, 12, 12, 10, 9]


def test_aimd_defaults_keep_limit_between_20_and_200() -> None:
    """The default AIMD starts at 20 and never leaves [20, 200]."""
    low = AIMDLimit()
    assert low.limit == 20
    assert low.on_sample(0.0, 0.01, 20, True) == 20
    high = AIMDLimit(initial_limit=200)
    assert high.on_sample(0.0, 0.01, 200, False) == 200


def test_aimd_rejects_backoff_ratio_outside_range() -> None:
    """A backoff ratio of 1.0 or below 0.5 is refused."""
    with pytest.raises(ValueError):
        AIMDLimit(backoff_ratio=1.0)
    with pytest.raises(ValueError):
        AIMDLimit(backoff_ratio=0.4)


# Vegas


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(0, 1), (1, 1), (9, 1), (10, 1), (99, 1), (100, 2), (999, 2), (1000, 31)],
)
def test_log10_root_steps(limit: int, expected: int) -> None:
    """log10_root is max(1, floor(log10)) below 1000 and floor(sqrt) above."""
    assert log10_root(limit) == expected


def test_vegas_grows_with_low_rtt_and_shrinks_when_rtt_rises() -> None:
    """Vegas adds beta without queueing, subtracts a step on queueing and on drops."""
    vegas = VegasLimit(rng=random.Random(0))
    samples: list[Sample] = [
        (0.010, 20, False),  # first sample only sets the no-load RTT
        (0.010, 20, False),  # no queue: +6
        (0.010, 26, False),  # no queue: +6
        (0.020, 32, False),  # queue 16 > beta 6: -1
        (0.020, 31, False),  # queue 16 > beta 6: -1
        (0.010, 30, True),  # drop: -1
        (0.010, 10, False),  # app-limited: unchanged
    ]
    assert replay(vegas, samples) == [20, 26, 32, 31, 30, 29, 29]
    assert vegas.rtt_noload == pytest.approx(0.010)


def test_vegas_small_queue_grows_by_one_and_sweet_spot_holds() -> None:
    """A queue under alpha adds one; a queue between alpha and beta changes nothing."""
    vegas = VegasLimit(rng=random.Random(0))
    samples: list[Sample] = [
        (0.0100, 20, False),  # no-load RTT
        (0.0108, 20, False),  # queue 2 < alpha 3: +1
        (0.0133, 21, False),  # queue 6 within [alpha, beta]: unchanged
    ]
    assert replay(vegas, samples) == [20, 21, 21]


def test_vegas_probe_replaces_no_load_rtt() -> None:
    """After jitter * multiplier * limit samples the next RTT becomes the baseline."""
    vegas = VegasLimit(probe_multiplier=1, rng=_FixedJitter())
    # Nine samples: the baseline stays at the lowest RTT.
    for _ in range(9):
        vegas.on_sample(0.0, 0.010, 0, False)
    assert vegas.rtt_noload == pytest.approx(0.010)
    # The tenth reaches 0.5 * 1 * 20 samples: a probe, even though it is slower.
    assert vegas.on_sample(0.0, 0.050, 0, False) == 20
    assert vegas.rtt_noload == pytest.approx(0.050)


def test_vegas_rejects_non_positive_rtt() -> None:
    """An RTT of zero is a caller error."""
    with pytest.raises(ValueError):
        VegasLimit().on_sample(0.0, 0.0, 1, False)


# Gradient2


def test_gradient2_grows_by_smoothed_queue_size_at_steady_rtt() -> None:
    """At a steady RTT the limit grows by 0.2 * 4 per sample from 20."""
    gradient = Gradient2Limit()
    samples: list[Sample] = [(0.010, 100, False)] * 10
    assert replay(gradient, samples) == [20, 21, 22, 23, 24, 24, 25, 26, 27, 28]


def test_gradient2_shrinks_when_short_rtt_exceeds_long_rtt_times_tolerance() -> None:
    """Tripling the RTT shrinks the limit back down to the minimum of 20."""
    gradient = Gradient2Limit()
    replay(gradient, [(0.010, 100, False)] * 10)
    assert replay(gradient, [(0.030, 100, False)] * 5) == [26, 24, 22, 21, 20]


def test_gradient2_tolerates_rtt_within_one_and_a_half_times_long_rtt() -> None:
    """An RTT 1.4 times the long RTT is within tolerance, so the limit keeps growing."""
    gradient = Gradient2Limit()
    replay(gradient, [(0.010, 100, False)] * 10)
    assert replay(gradient, [(0.014, 100, False)] * 3) == [28, 29, 30]


def test_gradient2_recovers_long_rtt_after_overload() -> None:
    """When the RTT falls below half the long RTT, the long RTT decays by 0.95 too."""
    gradient = Gradient2Limit()
    replay(gradient, [(0.100, 0, False)] * 10)
    assert gradient.long_rtt == pytest.approx(0.100)
    # One fast sample: exponential average, then the 0.95 decay.
    gradient.on_sample(0.0, 0.010, 100, False)
    expected = (0.100 * 599 / 601 + 0.010 * 2 / 601) * 0.95
    assert gradient.long_rtt == pytest.approx(expected)
    # The limit grows again while the baseline comes down.
    assert replay(gradient, [(0.010, 100, False)] * 4) == [21, 22, 23, 24]


def test_gradient2_holds_limit_when_app_limited() -> None:
    """Fewer than limit / 2 requests in flight leaves the limit alone."""
    gradient = Gradient2Limit()
    assert replay(gradient, [(0.010, 9, False)] * 5) == [20] * 5
    assert gradient.long_rtt == pytest.approx(0.010)
