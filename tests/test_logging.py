"""Structured logs: with BATON_LOG_FORMAT=json every line is one JSON object, and a line
written inside a workflow or an activity names its process, run and activity."""

import json
import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from temporalio.testing import ActivityEnvironment

from core.logging import JsonFormatter
from core.settings import Settings
from tests.helpers import BOB, Stack, post_decision
from tests.workspace import large_order


def test_the_format_is_a_setting() -> None:
    assert Settings(_env_file=None).log_format == "text"
    assert Settings(_env_file=None, log_format="json").log_format == "json"


def test_a_line_written_with_any_logger_inside_an_activity_names_its_run() -> None:
    lines: list[str] = []

    class Keep(logging.Handler):  # formats as it is written, as a stream handler does
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    log = logging.getLogger("baton.test.activity")
    keep = Keep()
    keep.setFormatter(JsonFormatter())
    log.addHandler(keep)
    try:
        ActivityEnvironment().run(lambda: log.warning("the ERP answered %s", 503))
    finally:
        log.removeHandler(keep)
    line = json.loads(lines[0])
    assert line["message"] == "the ERP answered 503"
    assert line["level"] == "WARNING"
    assert line["activity"] == "unknown"  # the test environment's activity type
    assert line["process_id"] == "test"
    assert "run_id" in line


async def test_a_workflow_line_names_its_process_and_run(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    process_id, task_id = await large_order(stack, "dev-bob")
    with caplog.at_level(logging.INFO):
        refused = await post_decision(stack, task_id, BOB, "approve")  # four-eyes
        assert refused.status_code == 403
    logged = [r for r in caplog.records if "refused decide" in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    line = json.loads(JsonFormatter().format(logged[0]))
    assert line["process_id"] == task_id
    assert line["workflow"] == "HumanTask"
    description = await stack.client.get_workflow_handle(task_id).describe()
    assert line["run_id"] == description.run_id
    assert process_id in task_id


def test_a_line_written_inside_a_span_names_its_trace() -> None:
    provider = TracerProvider()  # a provider of its own: the process's global one is not needed
    record = logging.LogRecord("baton.test", logging.INFO, __file__, 1, "inside", None, None)
    with provider.get_tracer("test").start_as_current_span("request") as span:
        line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    outside = json.loads(JsonFormatter().format(record))
    assert "trace_id" not in outside
