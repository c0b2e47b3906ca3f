"""The supervisor dashboard's figures, computed from successive metric samples.

Pure: a :class:`Sample` is what the counters and the contact-open histogram
held at one moment; a :class:`FigureWindow` keeps the samples of the last
``span_s`` seconds and turns the difference between the oldest and the
newest into rates and a p99, the way Prometheus's ``rate()`` and
``histogram_quantile()`` do over a range.  :func:`local_checks` applies the
thresholds of kefu's main alert rules to one set of figures.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Contact outcomes that count as reached (see ``kefu:connect_rate``).
CONNECTED_OUTCOMES = ("connected", "queued")

#: Thresholds of the alert rules the local checks mirror.
CONNECT_RATE_MIN = 0.95
LAG_MAX_EVENTS = 1000
OPEN_P99_MAX_S = 0.5
OLDEST_WAIT_MAX_S = 60.0

#: Breaker states that count as open (as in the ``KefuBreakerOpen`` rule).
OPEN_BREAKER_STATES = ("open", "half_open")


@dataclass(frozen=True, slots=True)
class Sample:
    """Cumulative counters at one moment (``at_s``, a monotonic clock)."""

    at_s: float
    #: ``kefu_contacts_total`` summed over channels, per outcome.
    contacts: Mapping[str, float]
    #: Cumulative bucket counts of ``kefu_contact_open_seconds``, by upper
    #: bound, ascending; the last bound is ``math.inf``.
    open_buckets: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Figures:
    """Rates and percentiles over a window; ``None`` when there is no data."""

    contacts_total: float
    contacts_per_s: float | None
    connect_rate: float | None
    open_p99_s: float | None
    #: The seconds the figures actually cover (up to the window's span).
    covered_s: float


def histogram_quantile(
    q: float, buckets: Iterable[tuple[float, float]]
) -> float | None:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets.

    Linear interpolation inside the bucket that holds the rank, as
    Prometheus does; the ``+Inf`` bucket answers with the highest finite
    bound.  ``None`` when the buckets hold no observation.
    """
    rows = sorted(buckets)
    if not rows or rows[-1][1] <= 0:
        return None
    rank = q * rows[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in rows:
        if count >= rank:
            # The +Inf bucket has no width to interpolate over.
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            share = (rank - lower_count) / (count - lower_count)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


class FigureWindow:
    """Samples of the last ``span_s`` seconds, and figures computed from them.

    ``rate_span_s`` is the shorter span of the contacts-per-second figure,
    so that it follows the load closely while the connect rate and the p99
    stay steady over the whole window.
    """

    def __init__(self, span_s: float = 60.0, rate_span_s: float = 5.0) -> None:
        self.span_s = span_s
        self.rate_span_s = rate_span_s
        self._samples: deque[Sample] = deque()

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def newest(self) -> Sample | None:
        return self._samples[-1] if self._samples else None

    def add(self, sample: Sample) -> None:
        """Keep ``sample``; forget those older than the window (but one)."""
        # A sample from the past (clock step) restarts the window.
        if self._samples and sample.at_s < self._samples[-1].at_s:
            self._samples.clear()
        self._samples.append(sample)
        # Keep one sample at or before the window's start, so the window is
        # covered whole once it has been running that long.
        start = sample.at_s - self.span_s
        while len(self._samples) > 2 and self._samples[1].at_s <= start:
            self._samples.popleft()

    def figures(self) -> Figures:
        """Figures from the newest sample against the window's older ones."""
        if not self._samples:
            return Figures(0.0, None, None, None, 0.0)
        newest = self._samples[-1]
        total = sum(newest.contacts.values())
        oldest = self._samples[0]
        covered = newest.at_s - oldest.at_s
        if covered <= 0:
            return Figures(total, None, None, None, 0.0)
        # Contacts per second over the short span.
        recent = self._since(newest.at_s - self.rate_span_s)
        recent_s = newest.at_s - recent.at_s
        per_s = None
        if recent_s > 0:
            per_s = (total - sum(recent.contacts.values())) / recent_s
        # Connect rate and p99 over the whole window.
        return Figures(
            contacts_total=total,
            contacts_per_s=per_s,
            connect_rate=connect_rate(oldest, newest),
            open_p99_s=open_quantile(0.99, oldest, newest),
            covered_s=covered,
        )

    def _since(self, start_s: float) -> Sample:
        """The newest sample at or before ``start_s``, else the oldest."""
        found = self._samples[0]
        for sample in self._samples:
            if sample.at_s > start_s:
                break
            found = sample
        return found


def connect_rate(older: Sample, newer: Sample) -> float | None:
    """Contacts connected or queued over all contacts between two samples."""
    grown = {
        outcome: newer.contacts.get(outcome, 0.0) - older.contacts.get(outcome, 0.0)
        for outcome in newer.contacts
    }
    total = sum(max(0.0, n) for n in grown.values())
    if total <= 0:
        return None
    reached = sum(max(0.0, grown.get(o, 0.0)) for o in CONNECTED_OUTCOMES)
    return reached / total


def open_quantile(q: float, older: Sample, newer: Sample) -> float | None:
    """The ``q`` quantile of contact-open times observed between two samples."""
    before = dict(older.open_buckets)
    grown = [
        (bound, max(0.0, count - before.get(bound, 0.0)))
        for bound, count in newer.open_buckets
    ]
    return histogram_quantile(q, grown)


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One skill group's queue and agents at one moment."""

    skill_group: str
    queue_depth: int
    oldest_wait_s: float
    agents_online: int
    load: int
    capacity: int


@dataclass(frozen=True, slots=True)
class Check:
    """One local check: the alert rule it mirrors, whether it fires, and why."""

    name: str
    firing: bool
    detail: str


def local_checks(
    figures: Figures,
    groups: Iterable[GroupRow],
    max_lag_events: int,
    breakers: Mapping[str, str],
) -> list[Check]:
    """The main alert rules' conditions applied to the figures right now.

    These fire at once: the rules' ``for`` durations and 5-minute ranges are
    not applied, so a check may fire briefly where the rule would not.
    """
    rows = list(groups)
    checks: list[Check] = []
    # Connect rate: under 95% of contacts reach a session.
    rate = figures.connect_rate
    checks.append(
        Check(
            "KefuConnectRateLow",
            rate is not None and rate < CONNECT_RATE_MIN,
            "no contacts in the window" if rate is None else f"{rate:.1%}",
        )
    )
    # Customers waiting in a group with nobody online.
    unserved = [
        r.skill_group for r in rows if r.queue_depth > 0 and not r.agents_online
    ]
    checks.append(
        Check("KefuNoAgentOnline", bool(unserved), ", ".join(unserved) or "none")
    )
    # The event bus's consumers fall behind.
    checks.append(
        Check(
            "KefuBusConsumerLagHigh",
            max_lag_events > LAG_MAX_EVENTS,
            f"{max_lag_events} events",
        )
    )
    # A breaker is open or trying calls between opens.
    opened = [name for name, state in breakers.items() if state in OPEN_BREAKER_STATES]
    checks.append(Check("KefuBreakerOpen", bool(opened), ", ".join(opened) or "none"))
    # Opening a contact is slow.
    p99 = figures.open_p99_s
    checks.append(
        Check(
            "KefuContactOpenSlow",
            p99 is not None and p99 > OPEN_P99_MAX_S,
            "no contacts in the window" if p99 is None else f"{p99 * 1000:.0f} ms",
        )
    )
    # A customer has waited over a minute.
    longest = max((r.oldest_wait_s for r in rows), default=0.0)
    checks.append(
        Check(
            "KefuQueueWaitLong",
            longest > OLDEST_WAIT_MAX_S,
            f"{longest:.0f} s",
        )
    )
    return checks
