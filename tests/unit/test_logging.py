"""Logs are JSON lines with stable fields, joined to traces by trace id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from kefu.observability.logging import configure


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """kefu's log configuration, writing to a buffer instead of stderr."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure("info")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:], root.level = saved


def _records(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_ids_and_trace(output: io.StringIO) -> None:
    """A log call inside a span gives one JSON object with its ids and trace id."""
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        logging.getLogger("kefu.test").info(
            "contact opened", extra={"session_id": "s-1", "agent_id": "a-1"}
        )
        expected = format(span.get_span_context().trace_id, "032x")
    (record,) = _records(output)
    assert record["event"] == "contact opened"
    assert record["level"] == "info"
    assert record["logger"] == "kefu.test"
    assert (record["session_id"], record["agent_id"]) == ("s-1", "a-1")
    assert record["trace_id"] == expected
    assert str(record["timestamp"]).endswith("Z")


def test_outside_a_trace_no_trace_id_is_invented(output: io.StringIO) -> None:
    """Without a span there is no trace_id field, and %-arguments are filled in."""
    logging.getLogger("kefu.test").warning("store batch failed; retrying %d", 3)
    (record,) = _records(output)
    assert record["event"] == "store batch failed; retrying 3"
    assert "trace_id" not in record
