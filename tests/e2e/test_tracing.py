"""One trace runs from the HTTP request through routing, the store and the bus."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from kefu.config import Settings
from kefu.service import Kefu
from tests.kefu_client import CUSTOMER_SECRET, customer_token

_exporter = InMemorySpanExporter()


def _install_exporter() -> InMemorySpanExporter:
    # The global provider can be set once per process; later tests reuse it.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    return _exporter


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, [span.name for span in spans])
    return found[0]


async def test_contact_trace_spans_routing_store_and_bus(tmp_path: Path) -> None:
    """A sensitive contact's trace holds route, store write, publish and consume."""
    exporter = _install_exporter()
    kefu = Kefu(
        Settings(data_dir=tmp_path, demo=True, customer_token_secret=CUSTOMER_SECRET)
    )
    async with kefu.lifespan(None):
        transport = httpx.ASGITransport(app=kefu.app)
        headers = {"authorization": f"Bearer {customer_token('traced')}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://kefu", headers=headers
        ) as http:
            r = await http.post(
                "/v1/contacts",
                json={"text": "I want a refund for my order", "channel": "app"},
            )
            assert r.status_code == 201
            # The worker marks it unavailable (no SMS provider) off the request.
            for _ in range(100):
                if any(
                    s.name == "kefu.bus.consume" for s in exporter.get_finished_spans()
                ):
                    break
                await asyncio.sleep(0.02)
    spans = list(exporter.get_finished_spans())
    (request,) = [s for s in spans if s.name == "POST /v1/contacts"]
    assert request.parent is None  # the server span opens the trace
    trace_id = request.context.trace_id
    route = _one(spans, "kefu.route")
    publish = _one(spans, "kefu.bus.publish")
    consume = _one(spans, "kefu.bus.consume")
    writes = [
        s
        for s in spans
        if s.name == "kefu.store.write" and s.context.trace_id == trace_id
    ]
    # Everything belongs to the request's trace, with the bus hop linked.
    for span in (route, publish, consume, *writes):
        assert span.context.trace_id == trace_id
    assert route.parent is not None and publish.parent is not None
    assert consume.parent is not None
    assert consume.parent.span_id == publish.context.span_id
    assert writes, "the durable write is part of the trace"
    assert route.attributes is not None
    assert route.attributes["kefu.skill_group"] == "billing"
