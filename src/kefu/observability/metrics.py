"""kefu's Prometheus metrics.  Names and labels are an interface: see
``docs/operations.md``.  No label ever carries a customer id or any text."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
