"""A bulkhead: bounded concurrency with a bounded wait, for asyncio.

Modelled on resilience4j's ``SemaphoreBulkhead``: at most ``max_concurrent``
calls run at once; a further call waits at most ``max_wait_s`` for a slot and
is then refused with :class:`~kefu.resilience.errors.BulkheadFull`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from kefu.resilience.errors import BulkheadFull

__all__ = ["Bulkhead", "BulkheadSettings"]

logger = logging.getLogger(__name__)

RejectListener = Callable[[str], None]
"""Called with the bulkhead name on every rejection."""


@dataclass(frozen=True)
class BulkheadSettings:
    """The settings of one bulkhead (defaults are resilience4j's).

    ``max_wait_s`` of 0 refuses at once when every slot is taken.
    ``max_waiting`` bounds how many calls may wait at once (kefu's addition:
    every queue is bounded); a call beyond it is refused at once.
    """

    max_concurrent: int = 25
    max_wait_s: float = 0.0
    max_waiting: int = 100

    def __post_init__(self) -> None:
        if self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        if self.max_waiting < 0:
            raise ValueError("max_waiting must not be negative")


class Bulkhead:
    """Bounds how many calls run at once and how long a call waits for a slot."""

    def __init__(self, name: str, settings: BulkheadSettings | None = None) -> None:
        self.name = name
        self.settings = settings or BulkheadSettings()
        self._slots = asyncio.Semaphore(self.settings.max_concurrent)
        self._active = 0
        self._waiting = 0
        self._rejections = 0
        self._reject_listeners: list[RejectListener] = []

    @property
    def active(self) -> int:
        """Calls holding a slot now."""
        return self._active

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot now."""
        return self._waiting

    @property
    def rejections(self) -> int:
        """Calls refused since the bulkhead was created."""
        return self._rejections

    def add_reject_listener(self, listener: RejectListener) -> None:
        """Call ``listener(name)`` on every rejection."""
        self._reject_listeners.append(listener)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        """Hold a slot for the body of an ``async with``, or raise ``BulkheadFull``."""
        await self._take_slot()
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1
            self._slots.release()

    async def _take_slot(self) -> None:
        # Take a free slot without waiting when there is one.
        if not self._slots.locked():
            await self._slots.acquire()
            return
        # Otherwise wait, but no longer than the bound, and never in a crowd
        # larger than the bound either.
        if self.settings.max_wait_s > 0 and self._waiting < self.settings.max_waiting:
            self._waiting += 1
            try:
                async with asyncio.timeout(self.settings.max_wait_s):
                    await self._slots.acquire()
                return
            except TimeoutError:
                pass
            finally:
                self._waiting -= 1
        self._reject()

    def _reject(self) -> None:
        self._rejections += 1
        logger.debug(
            "bulkhead %s full active %d waiting %d",
            self.name,
            self._active,
            self._waiting,
        )
        for listener in self._reject_listeners:
            listener(self.name)
        raise BulkheadFull(
            self.name, self.settings.max_concurrent, self.settings.max_wait_s
        )
