"""Logging configured once per process, the same way in every Baton component: text for a
terminal, or one JSON object a line for a log pipeline (`BATON_LOG_FORMAT=json`), where every
line written inside a workflow or an activity names its process, run and activity, and every
line written inside a traced span its trace id."""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from temporalio import activity

from core.settings import Settings, get_settings

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _temporal_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the SDK's workflow and activity loggers put on a record, or, for a line written
    with any logger inside an activity, what the activity's context says."""
    details = getattr(record, "temporal_activity", None)
    if not isinstance(details, dict) and activity.in_activity():
        info = activity.info()
        details = {
            "activity_type": info.activity_type,
            "attempt": info.attempt,
            "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id,
        }
    if isinstance(details, dict):
        return {
            "process_id": details.get("workflow_id"),
            "run_id": details.get("workflow_run_id"),
            "activity": details.get("activity_type"),
            "attempt": details.get("attempt"),
        }
    details = getattr(record, "temporal_workflow", None)
    if isinstance(details, dict):
        return {
            "process_id": details.get("workflow_id"),
            "run_id": details.get("run_id"),
            "workflow": details.get("workflow_type"),
        }
    return {}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the run it came from and, when
    tracing is on, the trace it belongs to."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_temporal_fields(record),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # tracing is on and the line is written inside a span
            line["trace_id"] = format(span.trace_id, "032x")
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(level: str = "INFO", log_format: str = "text") -> None:
    root = logging.getLogger()
    if getattr(root, "_baton_configured", False):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    # The HTTP client logs every request at INFO, Alembic every look at the schema: that
    # drowns the process logs (`baton db upgrade` says what it applied).
    for chatty in ("httpx", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    root._baton_configured = True  # type: ignore[attr-defined]


def command_settings() -> Settings:
    """The settings, with logging set up at their level: what every command starts with."""
    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    return settings
