"""The dashboard's figures: rates, connect rate, p99 and local checks."""

from __future__ import annotations

import math

import pytest

from kefu.observability.figures import (
    Figures,
    FigureWindow,
    GroupRow,
    Sample,
    histogram_quantile,
    local_checks,
)

BOUNDS = (0.01, 0.1, 0.5, 1.0, math.inf)


def sample(
    at_s: float, contacts: dict[str, float], counts: tuple[float, ...]
) -> Sample:
    """A sample with cumulative histogram counts over ``BOUNDS``."""
    return Sample(at_s, contacts, tuple(zip(BOUNDS, counts, strict=True)))


def test_quantile_interpolates_inside_the_bucket() -> None:
    """The p99 of 100 observations, all in (0.1, 0.5], lies inside that bucket."""
    buckets = [(0.1, 0.0), (0.5, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.1 + 0.4 * 0.99)


def test_quantile_of_the_inf_bucket_is_the_highest_bound() -> None:
    """Observations beyond every bound answer with the highest finite bound."""
    assert histogram_quantile(0.99, [(1.0, 0.0), (math.inf, 10.0)]) == 1.0


def test_quantile_without_observations_is_none() -> None:
    """Empty buckets have no quantile."""
    assert histogram_quantile(0.99, [(1.0, 0.0), (math.inf, 0.0)]) is None


def test_window_rates_use_the_difference_between_samples() -> None:
    """Contacts per second, connect rate and p99 come from counter growth only."""
    window = FigureWindow(span_s=60.0, rate_span_s=5.0)
    # 100 old contacts, all slow: they must not count.
    window.add(sample(0.0, {"connected": 100.0}, (0, 0, 0, 100, 100)))
    window.add(
        sample(10.0, {"connected": 118.0, "failed": 2.0}, (20, 20, 20, 120, 120))
    )
    figures = window.figures()
    assert figures.contacts_total == 120.0
    assert figures.contacts_per_s == pytest.approx(2.0)
    assert figures.connect_rate == pytest.approx(0.9)
    assert figures.open_p99_s is not None and figures.open_p99_s <= 0.01
    assert figures.covered_s == 10.0


def test_window_forgets_samples_older_than_its_span() -> None:
    """After a quiet minute, old growth leaves the window and the rate is zero."""
    window = FigureWindow(span_s=60.0, rate_span_s=5.0)
    window.add(sample(0.0, {"connected": 0.0}, (0, 0, 0, 0, 0)))
    window.add(sample(1.0, {"connected": 50.0}, (50, 50, 50, 50, 50)))
    for second in range(2, 70):
        window.add(sample(float(second), {"connected": 50.0}, (50, 50, 50, 50, 50)))
    figures = window.figures()
    assert figures.contacts_per_s == 0.0
    assert figures.connect_rate is None
    assert figures.open_p99_s is None
    assert figures.covered_s == pytest.approx(60.0, abs=1.0)


def test_one_sample_gives_totals_but_no_rates() -> None:
    """A window with a single sample knows the total and nothing else."""
    window = FigureWindow()
    window.add(sample(5.0, {"queued": 3.0}, (3, 3, 3, 3, 3)))
    figures = window.figures()
    assert figures.contacts_total == 3.0
    assert figures.contacts_per_s is None and figures.connect_rate is None


def test_local_checks_fire_on_the_alert_thresholds() -> None:
    """Each check fires past the threshold of the alert rule it mirrors."""
    figures = Figures(10.0, 1.0, 0.9, 0.6, 60.0)
    groups = [
        GroupRow("delivery", 3, 75.0, 0, 0, 0),
        GroupRow("billing", 0, 0.0, 2, 1, 10),
    ]
    checks = local_checks(figures, groups, 1001, {"sms": "half_open"})
    assert {c.name: c.firing for c in checks} == {
        "KefuConnectRateLow": True,
        "KefuNoAgentOnline": True,
        "KefuBusConsumerLagHigh": True,
        "KefuBreakerOpen": True,
        "KefuContactOpenSlow": True,
        "KefuQueueWaitLong": True,
    }


def test_local_checks_are_quiet_when_all_is_well() -> None:
    """Healthy figures, or none at all, fire no check."""
    groups = [GroupRow("delivery", 0, 0.0, 1, 0, 5)]
    for figures in (
        Figures(5.0, 0.5, 1.0, 0.05, 60.0),
        Figures(0.0, None, None, None, 0),
    ):
        checks = local_checks(figures, groups, 0, {"sms": "closed"})
        assert not any(c.firing for c in checks)
