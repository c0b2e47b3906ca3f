"""JSON-lines logs: structlog rendering on top of the standard library's logging.

Every record is one JSON object with ``event``, ``level``, ``logger``,
``timestamp``, ``trace_id`` while a trace is being recorded, and whatever ids
the caller attached (``session_id``, ``agent_id``).  Message text, tokens and
codes are never logged.
"""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace


def configure(level: str = "info") -> None:
    """Send every standard-library log record to stderr as one JSON line."""
    shared: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _add_trace_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_color_message,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _drop_color_message(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    # uvicorn attaches a copy of each message with terminal colour codes.
    event.pop("color_message", None)
    return event


def _add_trace_id(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    # The trace a record belongs to, when one is being recorded, so that logs
    # and traces can be joined.
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
    return event
