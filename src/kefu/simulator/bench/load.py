"""The open-loop load generator every benchmark shares.

Sends are scheduled at fixed times (``start + i / rate``) whatever the server
does; a request's latency is counted from its *intended* send time, so a server
that stalls cannot hide the queue that builds up behind it.  A target (an HTTP
connection pool, a set of WebSockets) receives each scheduled send through
:meth:`Target.issue` and reports back to the :class:`Recorder` when the
request is sent and when it completes.

The generator also reports its own achieved send rate, so a run where the
generator, not the server, was the bottleneck shows as such.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: Seconds between the start of a step and its first intended send.
TICK_S = 0.001

#: The highest p99 latency (seconds) at which a rate still counts as sustained.
SUSTAINED_P99_S = 0.5

#: The share of requests that may fail while a rate still counts as sustained.
MAX_FAILED_SHARE = 0.01

#: A step whose generator sent less than this share of the target rate is
#: not sustained: the generator could not keep the schedule.
MIN_SEND_SHARE = 0.95

#: A step whose server completed less than this share of the target rate
#: (between its first and last completion) is not sustained: its queue grew.
MIN_DONE_SHARE = 0.9


class Recorder:
    """Intended, sent and completed times of one step's requests."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.intended = [math.nan] * count
        self.sent = [math.nan] * count
        self.done = [math.nan] * count
        self.ok = [False] * count
        self.completed = 0
        #: Why requests failed (an HTTP status, an error frame's code), counted.
        self.failures: Counter[str] = Counter()
        self._all_done = asyncio.Event()

    def schedule(self, index: int, intended: float) -> None:
        """Note when request ``index`` is meant to be sent."""
        self.intended[index] = intended

    def mark_sent(self, index: int) -> None:
        """Note that request ``index`` has just been written."""
        self.sent[index] = time.monotonic()

    def mark_done(self, index: int, ok: bool, failure: str = "error") -> None:
        """Record a completion; a second report of the same request is ignored."""
        if not math.isnan(self.done[index]):
            return
        self.done[index] = time.monotonic()
        self.ok[index] = ok
        if not ok:
            self.failures[failure] += 1
        self.completed += 1
        if self.completed == self.count:
            self._all_done.set()

    async def wait_all(self, timeout_s: float) -> None:
        """Wait until every request completed, or for ``timeout_s`` seconds."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._all_done.wait()
        except TimeoutError:
            pass


class Target(Protocol):
    """What the generator drives: one send per call, never blocking."""

    def issue(self, index: int, recorder: Recorder) -> None:
        """Send request ``index`` now (or queue it); report to ``recorder``."""
        ...


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one fixed-rate step measured."""

    rate: float
    seconds: float
    scheduled: int
    sent: int
    ok: int
    failed: int
    unfinished: int
    #: Sends per second the generator achieved (first to last send).
    send_rate: float
    #: Completions per second the server achieved (first to last completion).
    done_rate: float
    p50_ms: float
    p99_ms: float
    #: p99 of (actual send time - intended send time): the generator's lag.
    send_lag_p99_ms: float
    #: Why requests failed, counted.
    failures: dict[str, int]

    @property
    def sustained(self) -> bool:
        """p99 under the bound, few failures, the schedule kept by both sides."""
        bad = self.failed + self.unfinished
        return (
            self.p99_ms < SUSTAINED_P99_S * 1000
            and bad <= MAX_FAILED_SHARE * max(1, self.scheduled)
            and self.send_rate >= MIN_SEND_SHARE * self.rate
            and self.done_rate >= MIN_DONE_SHARE * self.rate
        )

    def summary(self) -> dict[str, Any]:
        """The step as JSON (nan and infinity become null)."""
        return {
            "rate": round(self.rate, 1),
            "scheduled": self.scheduled,
            "ok": self.ok,
            "failed": self.failed,
            "unfinished": self.unfinished,
            "send_rate": round(self.send_rate, 1),
            "done_rate": round(self.done_rate, 1),
            "p50_ms": round_ms(self.p50_ms),
            "p99_ms": round_ms(self.p99_ms),
            "send_lag_p99_ms": round_ms(self.send_lag_p99_ms),
            "failures": self.failures,
            "sustained": self.sustained,
        }


async def run_step(
    target: Target, rate: float, seconds: float, grace_s: float = 5.0
) -> StepResult:
    """Drive ``target`` at ``rate`` sends per second for ``seconds``, open loop."""
    # Issue every send at its intended time; whatever fell due while the loop
    # was busy goes out at once, still timed from its own intended time.
    count = max(1, round(rate * seconds))
    recorder = Recorder(count)
    start = time.monotonic() + TICK_S
    index = 0
    while index < count:
        elapsed = time.monotonic() - start
        due = 0 if elapsed < 0 else min(count, int(elapsed * rate) + 1)
        while index < due:
            recorder.schedule(index, start + index / rate)
            target.issue(index, recorder)
            index += 1
        if index < count:
            next_at = start + index / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    # Give requests still in flight a bounded time to finish.
    await recorder.wait_all(grace_s)
    return _result(recorder, rate, seconds)


def _result(recorder: Recorder, rate: float, seconds: float) -> StepResult:
    # Latency from the intended time; failed and unfinished requests count as
    # infinitely slow, so they push the percentiles up instead of vanishing.
    latencies: list[float] = []
    lags: list[float] = []
    sent_times: list[float] = []
    ok = failed = 0
    for i in range(recorder.count):
        if not math.isnan(recorder.sent[i]):
            sent_times.append(recorder.sent[i])
            lags.append(recorder.sent[i] - recorder.intended[i])
        if math.isnan(recorder.done[i]):
            latencies.append(math.inf)
        elif recorder.ok[i]:
            ok += 1
            latencies.append(recorder.done[i] - recorder.intended[i])
        else:
            failed += 1
            latencies.append(math.inf)
    latencies.sort()
    lags.sort()
    return StepResult(
        rate=rate,
        seconds=seconds,
        scheduled=recorder.count,
        sent=len(sent_times),
        ok=ok,
        failed=failed,
        unfinished=recorder.count - recorder.completed,
        send_rate=_rate(sent_times),
        done_rate=_rate([t for t in recorder.done if not math.isnan(t)]),
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        send_lag_p99_ms=percentile(lags, 99) * 1000 if lags else math.inf,
        failures=dict(recorder.failures),
    )


def _rate(times: list[float]) -> float:
    if len(times) < 2:
        return 0.0
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else math.inf


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile of an ascending sequence (nan when empty)."""
    if not ordered:
        return math.nan
    rank = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def round_ms(value: float) -> float | None:
    """Milliseconds to one decimal; None for nan or infinity (JSON has neither)."""
    return None if not math.isfinite(value) else round(value, 1)


@dataclass(frozen=True, slots=True)
class Ladder:
    """How to step the rate up: double from ``start``, then refine."""

    start: float
    seconds: float
    max_rate: float = 400_000.0
    #: Geometric bisections between the last sustained and first failed rate.
    refinements: int = 2
    #: Wall-clock budget (seconds) for the whole search.
    budget_s: float = 150.0


@dataclass(frozen=True, slots=True)
class Search:
    """The highest sustained rate a ladder found, and every step it ran."""

    best_rate: float
    best: StepResult | None
    steps: list[StepResult]


StepRunner = Callable[[float, float], Awaitable[StepResult]]


async def find_max_rate(run: StepRunner, ladder: Ladder, label: str) -> Search:
    """Step the rate up until it is no longer sustained; return the best one."""
    # Double until a step fails (or the cap or the time budget is reached).
    deadline = time.monotonic() + ladder.budget_s
    steps: list[StepResult] = []
    best: StepResult | None = None
    failed_at: float | None = None
    rate = ladder.start
    while rate <= ladder.max_rate and time.monotonic() < deadline:
        step = await _logged(run, rate, ladder.seconds, label, steps)
        if not step.sustained:
            failed_at = rate
            break
        best = step
        rate *= 2

    # Bisect (geometrically) between the best sustained rate and the failure.
    low = best.rate if best else ladder.start / 2
    for _ in range(ladder.refinements if failed_at else 0):
        if time.monotonic() >= deadline or failed_at is None:
            break
        mid = math.sqrt(low * failed_at)
        step = await _logged(run, mid, ladder.seconds, label, steps)
        if step.sustained:
            best, low = step, mid
        else:
            failed_at = mid
    return Search(best.rate if best else 0.0, best, steps)


async def _logged(
    run: StepRunner, rate: float, seconds: float, label: str, steps: list[StepResult]
) -> StepResult:
    step = await run(rate, seconds)
    steps.append(step)
    logger.info(
        "%s: %.0f/s for %.1f s: p99 %.1f ms, ok %d, failed %d, unfinished %d, "
        "sent %.0f/s, done %.0f/s",
        label,
        rate,
        seconds,
        step.p99_ms,
        step.ok,
        step.failed,
        step.unfinished,
        step.send_rate,
        step.done_rate,
    )
    return step
