"""What each worker process serves on its Prometheus endpoint (BATON_WORKER_METRICS_ADDRESS):
the SDK's runtime metrics (workflow and activity task latencies, slots, polls) and Baton's own,
counted around every activity: bot calls by system and outcome, AI calls by model and activity,
the AI's confidence, and processes finished by type and status (counted where a process writes
its end to insight's event log). Through the SDK's metric meter, so one endpoint serves all."""

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.settings import Settings
from workflows.contracts.ai import AIActivity
from workflows.contracts.bots import BotActivity
from workflows.contracts.insight import InsightActivity
from workflows.contracts.processes import ProcessState, ProcessStatus

BOT_CALLS = "baton_bot_calls"
AI_CALLS = "baton_ai_calls"
AI_CONFIDENCE = "baton_ai_confidence"
PROCESSES_FINISHED = "baton_processes_finished"
WORKER_SERIES = (BOT_CALLS, AI_CALLS, AI_CONFIDENCE, PROCESSES_FINISHED)
_FINISHED = frozenset(
    {
        ProcessStatus.COMPLETED,
        ProcessStatus.REJECTED,
        ProcessStatus.CANCELLED,
        ProcessStatus.FAILED,
    }
)
_BOTS = frozenset(a.value for a in BotActivity)
_AI = frozenset(a.value for a in AIActivity)
# Where the confidence of AI answers falls: finest where the thresholds that route work are.
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0)


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime that serves the worker's metrics, when an address is set."""
    if not settings.worker_metrics_address:
        return None
    prometheus = PrometheusConfig(
        bind_address=settings.worker_metrics_address,
        counters_total_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides={AI_CONFIDENCE: CONFIDENCE_BUCKETS},
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


def _outcome(error: BaseException) -> str:
    if isinstance(error, ApplicationError) and error.type == "SystemUnavailable":
        return "unavailable"
    if isinstance(error, ApplicationError) and error.non_retryable:
        return "refused"  # the system said no (an unknown customer, no credit left)
    return "error"


class _Counting(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        name = activity.info().activity_type
        if name == InsightActivity.RECORD_RUN:
            return await self._record_run(input)
        if name not in _BOTS and name not in _AI:
            return await super().execute_activity(input)
        meter = activity.metric_meter()
        try:
            result = await super().execute_activity(input)
        except BaseException as error:
            if name in _BOTS:
                self._bot_call(meter, name, _outcome(error))
            raise
        if name in _BOTS:
            self._bot_call(meter, name, "ok")
        else:
            model = str(getattr(result, "model", "") or "unknown")
            calls = meter.create_counter(AI_CALLS, "AI calls, by model and activity")
            calls.add(1, {"model": model, "activity": name})
            confidence = getattr(result, "confidence", None)
            if isinstance(confidence, float | int):
                meter.create_histogram_float(AI_CONFIDENCE, "The confidence of AI answers").record(
                    float(confidence), {"model": model}
                )
        return result

    async def _record_run(self, input: ExecuteActivityInput) -> Any:
        """A process's last write to the event log is its end: counted once it is written."""
        written = await super().execute_activity(input)
        state = input.args[0] if input.args else None
        if written and isinstance(state, ProcessState) and state.status in _FINISHED:
            finished = activity.metric_meter().create_counter(
                PROCESSES_FINISHED, "Processes finished, by type and status"
            )
            finished.add(1, {"process_type": state.process_type, "status": state.status.value})
        return written

    @staticmethod
    def _bot_call(meter: Any, name: str, outcome: str) -> None:
        calls = meter.create_counter(BOT_CALLS, "Bot calls, by system and outcome")
        calls.add(1, {"system": name.split(".", 1)[0], "outcome": outcome})


class ActivityMetrics(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Counting(next)
