"""The defects of the system kefu replaces, reproduced on demand for replays.

``kefu replay outage`` measures what each of kefu's fixes contributes by
switching the original defect back on, one at a time.  Nothing here is active
unless a defect is named (``kefu serve --defects ...``); never in production.

- ``fixed-workers``: contacts are handled by 200 workers; callers wait for a
  free one without bound, and there is no adaptive limit.
- ``fixed-db-pool``: a contact holds one of 100 store connections from start to
  end, including any third-party call; callers wait for a free one.
- ``sync-verification``: the SMS code is sent inline, on the contact's own
  path, with no timeout and no breaker.
- ``queue-order-assignment``: the next agent in turn gets the session,
  whatever their load or capacity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from kefu.routing.classifier import Classifier

T = TypeVar("T")

FIXED_WORKERS = "fixed-workers"
FIXED_DB_POOL = "fixed-db-pool"
SYNC_VERIFICATION = "sync-verification"
QUEUE_ORDER_ASSIGNMENT = "queue-order-assignment"
ALL = (FIXED_WORKERS, FIXED_DB_POOL, SYNC_VERIFICATION, QUEUE_ORDER_ASSIGNMENT)

WORKERS = 200
DB_CONNECTIONS = 100


def parse(spec: str) -> frozenset[str]:
    """``all``, ``none`` or a comma-separated list of defect names."""
    if spec in ("", "none"):
        return frozenset()
    if spec == "all":
        return frozenset(ALL)
    names = frozenset(name.strip() for name in spec.split(",") if name.strip())
    unknown = names - set(ALL)
    if unknown:
        raise ValueError(f"unknown defects: {', '.join(sorted(unknown))}")
    return names


class ContactPath:
    """Wraps the opening of a contact in whichever defects are switched on."""

    def __init__(
        self,
        defects: frozenset[str],
        classifier: Classifier,
        sensitive: frozenset[str],
        sms: Callable[[str, str], Awaitable[None]] | None,
    ) -> None:
        self.defects = defects
        self._classifier = classifier
        self._sensitive = sensitive
        self._sms = sms
        self._workers = asyncio.Semaphore(WORKERS) if FIXED_WORKERS in defects else None
        self._pool = (
            asyncio.Semaphore(DB_CONNECTIONS) if FIXED_DB_POOL in defects else None
        )

    async def open(
        self, customer_id: str, text: str, opening: Callable[[], Awaitable[T]]
    ) -> T:
        """Run ``opening`` the way the defective system would have."""
        async with _held(self._workers), _held(self._pool):
            if SYNC_VERIFICATION in self.defects and self._sms is not None:
                issue_type = self._classifier.classify(text).issue_type
                if issue_type in self._sensitive:
                    # Inline and unbounded: the request waits as long as the
                    # provider takes.
                    await self._sms(customer_id, "Your verification code is 000000.")
            return await opening()


@contextlib.asynccontextmanager
async def _held(semaphore: asyncio.Semaphore | None) -> AsyncIterator[None]:
    if semaphore is None:
        yield
        return
    async with semaphore:
        yield
