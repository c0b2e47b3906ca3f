"""OpenTelemetry traces: spans from the HTTP request or WebSocket frame through
routing, the store and the bus, exported by OTLP when an endpoint is set.

FastAPI opens the server span of every HTTP request itself; kefu adds
``kefu.frame.<type>`` per WebSocket or Socket.IO frame, ``kefu.route``,
``kefu.store.write``, ``kefu.bus.publish``, ``kefu.bus.consume`` and
``kefu.sms.send``.

Without ``KEFU_OTLP_ENDPOINT`` no provider is installed and every span is a
no-op.  Trace context crosses the bus in each event's headers (the same
W3C ``traceparent`` header Kafka records carry), so a worker's spans join the
trace of the request that published the event.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import context, propagate, trace

tracer = trace.get_tracer("kefu")


def configure(endpoint: str | None, service_name: str = "kefu") -> None:
    """Export spans to an OTLP/HTTP collector at ``endpoint`` (if given)."""
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)


def outgoing_headers() -> dict[str, str]:
    """The current trace context, as headers for an event on the bus."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextlib.contextmanager
def incoming(headers: Mapping[str, str]) -> Iterator[None]:
    """Run the body in the trace context an event carried."""
    token = context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        context.detach(token)
