"""The bulkhead: bounded concurrency with a bounded wait."""

from __future__ import annotations

import asyncio

import pytest

from kefu.resilience.bulkhead import Bulkhead, BulkheadSettings
from kefu.resilience.errors import BulkheadFull


async def hold_slot(bulkhead: Bulkhead, release: asyncio.Event) -> None:
    """Hold one bulkhead slot until ``release`` is set."""
    async with bulkhead.acquire():
        await release.wait()


async def fill(
    bulkhead: Bulkhead, release: asyncio.Event, count: int
) -> list[asyncio.Task[None]]:
    """Start ``count`` tasks holding slots; one loop turn lets them all take one."""
    tasks = [asyncio.create_task(hold_slot(bulkhead, release)) for _ in range(count)]
    await asyncio.sleep(0)
    assert bulkhead.active == count
    return tasks


async def test_full_bulkhead_without_wait_rejects_at_once() -> None:
    """With every slot taken and no wait allowed, acquire raises BulkheadFull."""
    bulkhead = Bulkhead("sms", BulkheadSettings(max_concurrent=2))
    rejected: list[str] = []
    bulkhead.add_reject_listener(rejected.append)
    release = asyncio.Event()
    tasks = await fill(bulkhead, release, 2)
    with pytest.raises(BulkheadFull) as caught:
        async with bulkhead.acquire():
            pass
    assert caught.value.max_concurrent == 2
    assert bulkhead.rejections == 1
    assert rejected == ["sms"]
    release.set()
    await asyncio.gather(*tasks)
    assert bulkhead.active == 0


async def test_wait_is_bounded() -> None:
    """A call waits no longer than max_wait_s for a slot, then is refused."""
    bulkhead = Bulkhead("sms", BulkheadSettings(max_concurrent=1, max_wait_s=0.001))
    release = asyncio.Event()
    tasks = await fill(bulkhead, release, 1)
    with pytest.raises(BulkheadFull):
        async with bulkhead.acquire():
            pass
    assert bulkhead.waiting == 0
    release.set()
    await asyncio.gather(*tasks)


async def test_waiter_gets_the_slot_when_it_is_released() -> None:
    """A waiting call proceeds as soon as the holder releases its slot."""
    bulkhead = Bulkhead("sms", BulkheadSettings(max_concurrent=1, max_wait_s=60.0))
    release = asyncio.Event()
    tasks = await fill(bulkhead, release, 1)
    entered = asyncio.Event()

    async def waiter() -> None:
        async with bulkhead.acquire():
            entered.set()

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # one loop turn: the waiter blocks on the bulkhead
    assert bulkhead.waiting == 1
    assert not entered.is_set()
    release.set()
    await waiting
    assert entered.is_set()
    assert bulkhead.rejections == 0
    await asyncio.gather(*tasks)


async def test_cancelled_waiter_propagates_and_leaks_no_slot() -> None:
    """Cancelling a waiting call raises CancelledError and leaves the slot free."""
    bulkhead = Bulkhead("sms", BulkheadSettings(max_concurrent=1, max_wait_s=60.0))
    release = asyncio.Event()
    tasks = await fill(bulkhead, release, 1)

    async def waiter() -> None:
        async with bulkhead.acquire():
            pass

    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # one loop turn: the waiter blocks on the bulkhead
    assert bulkhead.waiting == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await asyncio.gather(*tasks)
    assert bulkhead.active == 0
    assert bulkhead.waiting == 0
    async with bulkhead.acquire():
        assert bulkhead.active == 1


def test_settings_are_validated() -> None:
    """A bulkhead needs at least one slot and a non-negative wait."""
    with pytest.raises(ValueError):
        BulkheadSettings(max_concurrent=0)
    with pytest.raises(ValueError):
        BulkheadSettings(max_wait_s=-1.0)


async def test_waiting_crowd_is_bounded() -> None:
    """Beyond max_waiting callers already waiting, a new caller is refused at once."""
    bulkhead = Bulkhead(
        "b", BulkheadSettings(max_concurrent=1, max_wait_s=5.0, max_waiting=1)
    )
    release = asyncio.Event()

    async def hold() -> None:
        async with bulkhead.acquire():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert bulkhead.waiting == 1
    with pytest.raises(BulkheadFull):
        async with bulkhead.acquire():
            pass
    release.set()
    await asyncio.gather(holder, waiter)
    assert bulkhead.rejections == 1
