"""One trace from `POST /v1/processes/...` through the workflow it starts and every activity,
each naming its process; spans kept in memory (the test's own tracer provider)."""

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import connect
from tests.helpers import Stack, start, temporal_address, until

# Tracing is on when an endpoint is set; nothing is sent there: spans stay in memory here.
ENDPOINT = "http://127.0.0.1:4318"
EXPORTER = InMemorySpanExporter()
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 5}]}


@pytest.fixture(scope="module", autouse=True)
def in_memory_spans() -> Iterator[None]:
    """The process's tracer provider: set once (OpenTelemetry allows no other); after this
    module its exporter keeps nothing, so the rest of the suite's spans go nowhere."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    yield
    EXPORTER.shutdown()


@pytest.fixture
async def client(temporal_env: WorkflowEnvironment) -> Client:
    """A client made as Baton makes one with tracing on: its workers trace too."""
    address = temporal_address(temporal_env.client)
    return await connect(Settings(_env_file=None, temporal_address=address, otel_endpoint=ENDPOINT))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with tracing on."""
    return settings.model_copy(update={"otel_endpoint": ENDPOINT})


def _parent(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return spans.get(span.parent.span_id) if span.parent else None


async def test_one_trace_from_the_request_through_every_activity(stack: Stack) -> None:
    EXPORTER.clear()
    process_id = await start(stack, "order-fulfillment", SMALL)
    await until(stack, process_id, "completed")
    business_key = process_id.split(":")[1]
    spans = EXPORTER.get_finished_spans()
    request = next(s for s in spans if s.name == "POST /v1/processes/{process_type}")
    assert request.attributes is not None
    assert request.attributes["http.response.status_code"] == 201
    in_trace = {
        s.context.span_id: s for s in spans if s.context.trace_id == request.context.trace_id
    }
    # The request's handler names the process it started (FastAPI's endpoint span).
    handled = [s for s in in_trace.values() if _parent(s, in_trace) is request]
    assert any(
        (s.attributes or {}).get("baton.process_id") == process_id
        and (s.attributes or {}).get("baton.business_key") == business_key
        for s in handled
    ), [(s.name, s.attributes) for s in handled]
    names = {s.name for s in in_trace.values()}
    assert "StartWorkflow:OrderFulfillment" in names
    assert "RunWorkflow:OrderFulfillment" in names
    activities = [s for s in in_trace.values() if s.name.startswith("RunActivity:")]
    assert {
        "RunActivity:crm.capture_interaction",
        "RunActivity:erp.reserve_stock",
        "RunActivity:finance.add_forecast",
        "RunActivity:notifications.send",
    } <= {s.name for s in activities}
    for span in activities:
        assert span.attributes is not None
        assert span.attributes["baton.process_id"] == process_id, span.name
        assert span.attributes["baton.process_type"] == "order-fulfillment"
        # Each hangs from the request: activity <- ... <- the workflow's start <- the request.
        ancestor: ReadableSpan | None = span
        while ancestor is not None and ancestor is not request:
            ancestor = _parent(ancestor, in_trace)
        assert ancestor is request, span.name
