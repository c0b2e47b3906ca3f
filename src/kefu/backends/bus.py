"""The event bus interface and its in-process implementation.

Side effects that must not hold up a request (sending an SMS code, webhooks)
are published as events; workers consume them.  In one process the bus is a
set of bounded in-memory queues, one per consumer group and topic; across
processes it is Kafka, behind the same interface.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from kefu.errors import Overloaded
from kefu.observability import tracing

logger = logging.getLogger(__name__)

Handler = Callable[[bytes, bytes], Awaitable[None]]
"""A consumer: called with (key, value) for every event, one at a time."""

#: (key, value, headers) of one event.
_Event = tuple[bytes, bytes, dict[str, str]]

VERIFICATION_TOPIC = "kefu.verification-requests"
SESSION_EVENTS_TOPIC = "kefu.session-events"


@dataclass(frozen=True, slots=True)
class Lag:
    group: str
    topic: str
    partition: int
    events: int


class Bus(Protocol):
    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Hand an event to the bus; raises :class:`Overloaded` when it is full.

        The caller's trace context travels with the event."""

    def subscribe(self, group: str, topic: str, handler: Handler) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def lag(self) -> list[Lag]:
        """Events published but not yet processed, per group and partition."""


class InProcessBus:
    """A bounded queue per (group, topic), each drained by one task in order."""

    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self._queues: dict[tuple[str, str], asyncio.Queue[_Event]] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def subscribe(self, group: str, topic: str, handler: Handler) -> None:
        self._queues[(group, topic)] = asyncio.Queue(self.max_pending)
        self._handlers[(group, topic)] = handler

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        # Every group subscribed to the topic gets its own copy.
        with tracing.tracer.start_as_current_span(
            "kefu.bus.publish", attributes={"messaging.destination.name": topic}
        ):
            headers = tracing.outgoing_headers()
        for (group, subscribed), queue in self._queues.items():
            if subscribed != topic:
                continue
            try:
                queue.put_nowait((key, value, headers))
            except asyncio.QueueFull:
                raise Overloaded(
                    f"the {group} consumer is {queue.qsize()} events behind",
                    retry_after_s=1.0,
                ) from None

    async def start(self) -> None:
        for (group, topic), queue in self._queues.items():
            handler = self._handlers[(group, topic)]
            self._tasks.append(
                asyncio.create_task(
                    _consume(group, queue, handler), name=f"kefu-bus-{group}"
                )
            )

    async def stop(self) -> None:
        # Let consumers finish what is queued (bounded), then stop them.
        for queue in self._queues.values():
            try:
                async with asyncio.timeout(5.0):
                    await queue.join()
            except TimeoutError:
                logger.warning("bus stopped with %d events unprocessed", queue.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def lag(self) -> list[Lag]:
        return [
            Lag(group, topic, 0, queue.qsize())
            for (group, topic), queue in self._queues.items()
        ]


async def _consume(group: str, queue: asyncio.Queue[_Event], handler: Handler) -> None:
    while True:
        key, value, headers = await queue.get()
        try:
            # The handler runs inside the trace of the request that published.
            with (
                tracing.incoming(headers),
                tracing.tracer.start_as_current_span(
                    "kefu.bus.consume",
                    attributes={"messaging.consumer.group.name": group},
                ),
            ):
                await handler(key, value)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failing event must not stop the consumer; the handler owns
            # its own retries and reports what it could not do.
            logger.exception("bus handler failed", extra={"group": group})
        finally:
            queue.task_done()
