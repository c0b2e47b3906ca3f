"""The adaptive limiter: in-flight accounting, partitions and priority."""

from __future__ import annotations

import asyncio

import pytest

from kefu.resilience.algorithms import FixedLimit, Gradient2Limit
from kefu.resilience.clock import VirtualClock
from kefu.resilience.errors import LimitExceeded
from kefu.resilience.limiter import (
    AdaptiveLimiter,
    Listener,
    Partition,
    retry_after_seconds,
)


class ScriptedLimit:
    """A limit algorithm that records samples and returns a scripted limit."""

    def __init__(self, limit: int) -> None:
        self.next_limit = limit
        self.samples: list[tuple[float, float, int, bool]] = []

    @property
    def limit(self) -> int:
        return self.next_limit

    def on_sample(
        self, start_time: float, rtt: float, inflight: int, did_drop: bool
    ) -> int:
        self.samples.append((start_time, rtt, inflight, did_drop))
        return self.next_limit


def limiter_of_ten() -> AdaptiveLimiter:
    """A limiter with a fixed limit of 10 and kefu's default partitions."""
    return AdaptiveLimiter("api", FixedLimit(10), clock=VirtualClock())


def take(limiter: AdaptiveLimiter, partition: str, count: int) -> list[Listener]:
    """Acquire ``count`` slots of ``partition``, failing if any is rejected."""
    listeners = [limiter.try_acquire(partition) for _ in range(count)]
    assert all(listener is not None for listener in listeners)
    return [listener for listener in listeners if listener is not None]


def test_default_partitions_split_ten_as_six_three_one() -> None:
    """Shares of 0.6, 0.3 and 0.1 of a limit of 10 round up to 6, 3 and 1."""
    limiter = limiter_of_ten()
    shares = [limiter.partition_share_limit(p) for p in limiter.partition_names]
    assert limiter.partition_names == ("live", "contact", "history")
    assert shares == [6, 3, 1]


def test_history_borrows_only_up_to_its_ceiling() -> None:
    """History alone is admitted until 8 of 10 are in flight (ceiling 0.8)."""
    limiter = limiter_of_ten()
    admitted = [limiter.try_acquire("history") for _ in range(10)]
    assert sum(listener is not None for listener in admitted) == 8
    assert limiter.rejections("history") == 2
    assert limiter.inflight == 8


def test_live_may_use_the_whole_limit() -> None:
    """Live alone is admitted up to the full limit and no further."""
    limiter = limiter_of_ten()
    take(limiter, "live", 10)
    assert limiter.try_acquire("live") is None
    assert limiter.rejections("live") == 1


def test_under_pressure_live_is_admitted_before_contact_before_history() -> None:
    """At 8 in flight history is refused, contact borrows, then only live gets in."""
    limiter = limiter_of_ten()
    take(limiter, "live", 4)
    take(limiter, "contact", 3)
    take(limiter, "history", 1)
    # At 8 of 10: history may not borrow, contact may.
    assert limiter.try_acquire("history") is None
    assert limiter.try_acquire("contact") is not None
    # At 9 of 10: contact may not borrow any more; live still has its share.
    assert limiter.try_acquire("contact") is None
    assert limiter.try_acquire("live") is not None
    assert limiter.inflight == 10
    assert [limiter.rejections(p) for p in limiter.partition_names] == [0, 1, 1]


def test_guaranteed_share_is_admitted_even_when_the_limit_is_full() -> None:
    """History keeps its one guaranteed slot after live filled the limit."""
    limiter = limiter_of_ten()
    take(limiter, "live", 10)
    assert limiter.try_acquire("history") is not None
    assert limiter.try_acquire("history") is None
    assert limiter.inflight == 11


def test_listener_releases_once_and_feeds_the_algorithm() -> None:
    """on_success samples rtt and in-flight; on_ignore does not; repeats are no-ops."""
    clock = VirtualClock(100.0)
    algorithm = ScriptedLimit(10)
    limiter = AdaptiveLimiter("api", algorithm, clock=clock)
    first, second, third = take(limiter, "contact", 3)
    clock.advance(0.25)
    # Success: the sample carries start time, rtt and in flight at start.
    second.on_success()
    second.on_dropped()
    assert algorithm.samples == [(100.0, 0.25, 2, False)]
    # Drop and ignore.
    third.on_dropped()
    first.on_ignore()
    assert algorithm.samples[1] == (100.0, 0.25, 3, True)
    assert len(algorithm.samples) == 2
    assert limiter.inflight == 0
    assert limiter.partition_inflight("contact") == 0


def test_zero_rtt_sample_is_skipped() -> None:
    """A request finishing with zero elapsed time feeds no sample to the algorithm."""
    limiter = AdaptiveLimiter("api", Gradient2Limit(), clock=VirtualClock())
    take(limiter, "live", 1)[0].on_success()
    assert limiter.inflight == 0
    assert limiter.limit == 20


def test_limit_change_resizes_partitions_and_notifies() -> None:
    """A new limit of 20 gives live a share of 12 and calls the limit listener."""
    clock = VirtualClock()
    algorithm = ScriptedLimit(10)
    limiter = AdaptiveLimiter("api", algorithm, clock=clock)
    changes: list[tuple[int, int]] = []
    limiter.add_limit_listener(lambda old, new: changes.append((old, new)))
    algorithm.next_limit = 20
    listener = take(limiter, "live", 1)[0]
    clock.advance(0.01)
    listener.on_success()
    assert limiter.limit == 20
    assert limiter.partition_share_limit("live") == 12
    assert changes == [(10, 20)]


def test_reject_listener_receives_the_partition() -> None:
    """Every rejection is reported with its partition name."""
    limiter = limiter_of_ten()
    rejected: list[str] = []
    limiter.add_reject_listener(rejected.append)
    take(limiter, "history", 8)
    limiter.try_acquire("history")
    assert rejected == ["history"]


def test_unknown_partition_is_an_error() -> None:
    """Asking for a partition that was not configured raises ValueError."""
    with pytest.raises(ValueError):
        limiter_of_ten().try_acquire("bulk")


def test_partition_shares_above_one_are_refused() -> None:
    """Shares adding up to more than 1.0 are a configuration error."""
    with pytest.raises(ValueError):
        AdaptiveLimiter(
            "api",
            FixedLimit(10),
            partitions=[Partition("a", 0.7), Partition("b", 0.4)],
        )


async def test_acquire_context_reports_success() -> None:
    """A body that returns releases its slot and reports success."""
    clock = VirtualClock()
    algorithm = ScriptedLimit(10)
    limiter = AdaptiveLimiter("api", algorithm, clock=clock)
    async with limiter.acquire("live"):
        assert limiter.inflight == 1
        clock.advance(0.02)
    assert limiter.inflight == 0
    assert algorithm.samples == [(0.0, 0.02, 1, False)]


async def test_acquire_context_raises_limit_exceeded_with_retry_after() -> None:
    """A rejected acquire raises LimitExceeded naming the partition."""
    limiter = limiter_of_ten()
    take(limiter, "history", 8)
    with pytest.raises(LimitExceeded) as caught:
        async with limiter.acquire("history"):
            pass
    assert caught.value.partition == "history"
    assert caught.value.limiter == "api"
    assert caught.value.retry_after_s == 1.0


async def test_acquire_context_reports_timeout_as_drop() -> None:
    """A body raising TimeoutError is reported to the algorithm as dropped."""
    clock = VirtualClock()
    algorithm = ScriptedLimit(10)
    limiter = AdaptiveLimiter("api", algorithm, clock=clock)
    with pytest.raises(TimeoutError):
        async with limiter.acquire("live"):
            clock.advance(1.0)
            raise TimeoutError
    assert algorithm.samples == [(0.0, 1.0, 1, True)]
    assert limiter.inflight == 0


async def test_acquire_context_releases_on_cancellation_without_sample() -> None:
    """A cancelled body frees its slot, feeds no sample and stays cancelled."""
    algorithm = ScriptedLimit(10)
    limiter = AdaptiveLimiter("api", algorithm, clock=VirtualClock())
    entered = asyncio.Event()

    async def hold() -> None:
        async with limiter.acquire("live"):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limiter.inflight == 0
    assert algorithm.samples == []


@pytest.mark.parametrize(
    ("rtt_s", "inflight", "limit", "expected"),
    [
        (0.3, 10, 10, 1.0),  # short RTT: at least one second
        (2.0, 20, 10, 8.0),  # 2 * 2.0 s * 20 / 10
        (100.0, 10, 10, 30.0),  # capped at 30 s
    ],
)
def test_retry_after_seconds(
    rtt_s: float, inflight: int, limit: int, expected: float
) -> None:
    """Retry-After is twice the drain time, rounded up, within [1, 30] s."""
    assert retry_after_seconds(rtt_s, inflight, limit) == expected


def test_limiter_retry_after_follows_recent_rtt() -> None:
    """After 3 s requests at the limit the limiter suggests 6 s."""
    clock = VirtualClock()
    limiter = AdaptiveLimiter("api", FixedLimit(10), clock=clock)
    listeners = take(limiter, "live", 10)
    clock.advance(3.0)
    listeners[0].on_success()
    take(limiter, "live", 1)
    assert limiter.retry_after_s() == 6.0
