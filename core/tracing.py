"""Tracing with OpenTelemetry: one trace from an API request through the workflow it starts and
every activity that workflow runs (the SDK's TracingInterceptor carries the context in Temporal's
headers). Exported over OTLP/HTTP when BATON_OTEL_ENDPOINT is set; off, and free, otherwise.
"""

from typing import Any

from opentelemetry import trace
from temporalio import activity, client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core.settings import Settings


def process_attributes(workflow_id: str) -> dict[str, str]:
    """A run's process as span attributes, from its id (`type:key`, or `type:key:task:name`
    for a human task)."""
    process_id = workflow_id.partition(":task:")[0]
    process_type, _, business_key = process_id.partition(":")
    return {
        "baton.process_id": process_id,
        "baton.process_type": process_type,
        "baton.business_key": business_key,
    }


class _ActivityAttributes(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        workflow_id = activity.info().workflow_id
        if workflow_id:  # the SDK's RunActivity span is the current one, around this
            trace.get_current_span().set_attributes(process_attributes(workflow_id))
        return await super().execute_activity(input)


class ProcessAttributes(client.Interceptor, Interceptor):
    """Names each activity's process on its span (the SDK's names only the workflow id). A
    client interceptor as well, so the client's workers take it, as they take the SDK's."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityAttributes(next)


def interceptors(settings: Settings) -> list[Any]:
    """The client's (and so its workers') interceptors: tracing ones only when tracing is on."""
    if not settings.otel_endpoint:
        return []
    return [TracingInterceptor(), ProcessAttributes()]


def configure(settings: Settings, service: str) -> None:
    """Sends this process's spans, in batches, to the OTLP endpoint (when one is set)."""
    if not settings.otel_endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    endpoint = f"{settings.otel_endpoint.rstrip('/')}/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
