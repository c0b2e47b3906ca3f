"""kefu's Prometheus metrics.  Names and labels are an interface: see
``docs/operations.md``.  No label ever carries a customer id or any text."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

#: group -> (queue depth, oldest wait s, agents online, load, capacity)
RoutingSnapshot = dict[str, tuple[int, float, int, int, int]]

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


#: A canary run takes a contact, an agent's answer and a close: seconds, not ms.
_CANARY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Values of ``kefu_canary_runs_total{outcome}``.
CANARY_OUTCOMES = ("success", "failure")


class LagRow(Protocol):
    """One consumer group's backlog on one partition (the bus's ``Lag``)."""

    @property
    def group(self) -> str: ...

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def events(self) -> int: ...


class Metrics:
    """Every metric kefu exports, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.contacts = Counter(
            "kefu_contacts_total",
            "Contacts by outcome and channel.",
            ["outcome", "channel"],
            registry=r,
        )
        self.contact_open = Histogram(
            "kefu_contact_open_seconds",
            "Time to open a contact, request to response.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.message_latency = Histogram(
            "kefu_message_seconds",
            "Time to accept a message, receipt to ack.",
            ["transport"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.messages = Counter(
            "kefu_messages_total",
            "Messages stored, by sender role.",
            ["role"],
            registry=r,
        )
        self.connections = Gauge(
            "kefu_websocket_connections",
            "Open authenticated connections.",
            ["role"],
            registry=r,
        )
        self.frames_rejected = Counter(
            "kefu_ws_frames_rejected_total",
            "Client frames answered with an error.",
            ["code"],
            registry=r,
        )
        self.disconnects = Counter(
            "kefu_ws_disconnects_total",
            "Connections closed by kefu, by reason.",
            ["reason"],
            registry=r,
        )
        self.first_response = Histogram(
            "kefu_first_response_seconds",
            "Contact to first agent message.",
            buckets=(1, 2, 5, 10, 15, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.http_errors = Counter(
            "kefu_http_errors_total",
            "Error responses by code.",
            ["code"],
            registry=r,
        )
        self.store_latency = Histogram(
            "kefu_store_seconds",
            "Time of one store operation, call to result, by operation.",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.store_pending_writes = Gauge(
            "kefu_store_pending_writes",
            "Writes accepted by the store and not yet durable.",
            registry=r,
        )
        self.store_connections = Gauge(
            "kefu_store_connections",
            "Store connections by state: in use (checked out) or idle in the pool.",
            ["state"],
            registry=r,
        )
        self.canary_latency = Histogram(
            "kefu_canary_seconds",
            "Time of one canary run, contact to close.",
            buckets=_CANARY_BUCKETS,
            registry=r,
        )
        self.canary_runs = Counter(
            "kefu_canary_runs_total",
            "Canary runs by outcome.",
            ["outcome"],
            registry=r,
        )
        for outcome in CANARY_OUTCOMES:
            self.canary_runs.labels(outcome)
        # Success and last-run time appear only once a canary has run, so
        # that a node without a canary never looks like one that fails.
        self._canary = _CanaryCollector()
        r.register(self._canary)

    def record_canary(self, ok: bool, seconds: float) -> None:
        """Export one finished canary run: its outcome, duration and time."""
        self.canary_latency.observe(seconds)
        self.canary_runs.labels("success" if ok else "failure").inc()
        self._canary.last = (ok, time.time())

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)


class RoutingCollector(Collector):
    """Queue and agent gauges read from the live router at scrape time."""

    def __init__(self, snapshot: Callable[[], RoutingSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self._snapshot()
        depth = GaugeMetricFamily(
            "kefu_queue_depth",
            "Sessions waiting, per skill group.",
            labels=["skill_group"],
        )
        oldest = GaugeMetricFamily(
            "kefu_queue_oldest_wait_seconds",
            "How long the oldest waiting session has waited, per skill group.",
            labels=["skill_group"],
        )
        online = GaugeMetricFamily(
            "kefu_agents_online",
            "Agents online and connected, per skill group.",
            labels=["skill_group"],
        )
        load = GaugeMetricFamily(
            "kefu_agent_load_sessions",
            "Sessions held by the group's agents.",
            labels=["skill_group"],
        )
        capacity = GaugeMetricFamily(
            "kefu_agent_capacity_sessions",
            "Capacity of the group's online, connected agents.",
            labels=["skill_group"],
        )
        for group, row in sorted(snap.items()):
            depth.add_metric([group], row[0])
            oldest.add_metric([group], row[1])
            online.add_metric([group], row[2])
            load.add_metric([group], row[3])
            capacity.add_metric([group], row[4])
        yield from (depth, oldest, online, load, capacity)


class BusLagCollector(Collector):
    """Consumer lag read from the event bus at scrape time."""

    def __init__(self, lag: Callable[[], Iterable[LagRow]]) -> None:
        self._lag = lag

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "kefu_bus_consumer_lag",
            "Events published and not yet processed, per consumer group, "
            "topic and partition.",
            labels=["group", "topic", "partition"],
        )
        for row in sorted(self._lag(), key=lambda r: (r.group, r.topic, r.partition)):
            family.add_metric([row.group, row.topic, str(row.partition)], row.events)
        yield family


class _CanaryCollector(Collector):
    """The last canary run's outcome and time; nothing before the first run."""

    def __init__(self) -> None:
        #: (succeeded, finished at in seconds since the epoch)
        self.last: tuple[bool, float] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.last is None:
            return
        ok, finished_at = self.last
        yield GaugeMetricFamily(
            "kefu_canary_success",
            "1 if the last canary run succeeded, 0 if it failed.",
            value=1 if ok else 0,
        )
        yield GaugeMetricFamily(
            "kefu_canary_last_run_timestamp_seconds",
            "When the last canary run finished, in seconds since the epoch.",
            value=finished_at,
        )
