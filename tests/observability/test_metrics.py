"""kefu's metric definitions: names, labels, and what a scrape shows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kefu.observability.metrics import BusLagCollector, Metrics, RoutingCollector
from kefu.observability.resilience_metrics import ResilienceMetrics
from tests.observability.tools import OPERATIONS_DOC

#: Every label kefu may put on a metric; none can carry a customer id or text.
ALLOWED_LABELS = {
    "outcome",
    "channel",
    "transport",
    "role",
    "code",
    "reason",
    "op",
    "skill_group",
    "group",
    "topic",
    "partition",
    "limiter",
    "breaker",
    "from_state",
    "to_state",
    "bulkhead",
    "budget",
    "le",
}


@dataclass(frozen=True)
class _Lag:
    group: str
    topic: str
    partition: int
    events: int


def _scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def _everything() -> tuple[Metrics, str]:
    """Every kefu metric with at least one series, scraped once."""
    metrics = Metrics()
    ResilienceMetrics(metrics.registry)
    metrics.watch(RoutingCollector(lambda: {"delivery": (2, 30.0, 1, 3, 5)}))
    metrics.watch(
        BusLagCollector(lambda: [_Lag("persistence", "kefu.session-events", 0, 7)])
    )
    metrics.record_canary(True, 0.4)
    return metrics, _scrape(metrics.registry)


def test_bus_lag_is_a_gauge_per_group_topic_and_partition() -> None:
    """The bus's lag rows become kefu_bus_consumer_lag samples."""
    metrics = Metrics()
    rows = [_Lag("webhooks", "kefu.session-events", 3, 12), _Lag("sms", "t", 0, 0)]
    metrics.watch(BusLagCollector(lambda: rows))
    text = _scrape(metrics.registry)
    assert "# TYPE kefu_bus_consumer_lag gauge" in text
    assert (
        'kefu_bus_consumer_lag{group="webhooks",partition="3",'
        'topic="kefu.session-events"} 12.0'
    ) in text


def test_canary_gauges_appear_only_after_a_run() -> None:
    """Before the first canary run no success gauge exists, so nothing pages."""
    metrics = Metrics()
    before = _scrape(metrics.registry)
    assert "kefu_canary_success" not in before
    assert "kefu_canary_last_run_timestamp_seconds" not in before
    assert 'kefu_canary_runs_total{outcome="failure"} 0.0' in before

    metrics.record_canary(False, 1.5)
    after = _scrape(metrics.registry)
    assert "kefu_canary_success 0.0" in after
    assert 'kefu_canary_runs_total{outcome="failure"} 1.0' in after
    assert "kefu_canary_seconds_count 1.0" in after
    stamp = re.search(r"^kefu_canary_last_run_timestamp_seconds (\S+)$", after, re.M)
    assert stamp is not None and float(stamp.group(1)) > 1e9

    metrics.record_canary(True, 0.2)
    assert "kefu_canary_success 1.0" in _scrape(metrics.registry)


def test_store_metrics_are_defined() -> None:
    """Store latency is a histogram by operation; pending writes a gauge."""
    metrics = Metrics()
    metrics.store_latency.labels("append_message").observe(0.003)
    metrics.store_pending_writes.set(4)
    text = _scrape(metrics.registry)
    assert 'kefu_store_seconds_bucket{le="0.005",op="append_message"} 1.0' in text
    assert "kefu_store_pending_writes 4.0" in text


def test_names_follow_conventions_and_labels_carry_no_personal_data() -> None:
    """Every metric is kefu_-prefixed, counters end in _total, labels are known."""
    _, text = _everything()
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("kefu_"), family.name
        assert not family.name.endswith("_total"), family.name  # parser strips it
        for sample in family.samples:
            if family.type == "counter" and not sample.name.endswith("_created"):
                assert sample.name.endswith("_total"), sample.name
            assert set(sample.labels) <= ALLOWED_LABELS, sample


def test_every_metric_is_documented() -> None:
    """docs/operations.md names every metric kefu exports."""
    _, text = _everything()
    doc = OPERATIONS_DOC.read_text(encoding="utf-8")
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue  # the client library's creation time of each series
        name = family.name + ("_total" if family.type == "counter" else "")
        assert f"`{name}`" in doc, name
