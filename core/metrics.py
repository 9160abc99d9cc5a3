"""Baton's own metrics, as the API serves them on `/metrics` (Prometheus' text format).

Counted as things happen: processes started through the API, and each decision's round trip.
Read from the database at each scrape: processes by type and status (insight's event log, so
every process counts, whoever started it) and open tasks by candidate role and escalation
level (the inbox). The workers serve the SDK's runtime metrics and Baton's per-activity ones
(bot and AI calls) on their own endpoint (workers/metrics.py).
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, not_
from sqlmodel import Session, col, select

from core.inbox import TaskCandidate
from core.insight.log import InsightCase
from workflows.contracts.tasks import TaskStatus

PROCESSES = "baton_processes"
OPEN_TASKS = "baton_open_tasks"
PROCESSES_STARTED = "baton_processes_started"
DECISION_SECONDS = "baton_decision_seconds"
API_SERIES = (PROCESSES, OPEN_TASKS, PROCESSES_STARTED, DECISION_SECONDS)
# A decision answers in tens of milliseconds; its workflow may take seconds under faults.
DECISION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _FromTheDatabase(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        processes = GaugeMetricFamily(
            PROCESSES,
            "Processes in insight's event log, by type and status",
            labels=["process_type", "status"],
        )
        tasks = GaugeMetricFamily(
            OPEN_TASKS,
            "Open human tasks, by candidate role and escalation level",
            labels=["role", "escalation_level"],
        )
        with Session(self.engine) as session:
            by_status = session.exec(
                select(InsightCase.process_type, InsightCase.status, func.count()).group_by(
                    col(InsightCase.process_type), col(InsightCase.status)
                )
            ).all()
            by_role = session.exec(
                select(TaskCandidate.audience, TaskCandidate.escalation_level, func.count())
                .where(
                    TaskCandidate.status == TaskStatus.OPEN.value,
                    not_(col(TaskCandidate.audience).startswith("user:")),  # assignees
                )
                .group_by(col(TaskCandidate.audience), col(TaskCandidate.escalation_level))
            ).all()
        for process_type, status, count in by_status:
            processes.add_metric([process_type, status], count)
        for role, level, count in by_role:
            tasks.add_metric([role, str(level)], count)
        yield processes
        yield tasks


class ApiMetrics:
    """The API's registry (one per app, so apps in one process never share series)."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.started = Counter(
            PROCESSES_STARTED,
            "Processes started through the API, by type",
            ["process_type"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            DECISION_SECONDS,
            "A decision's round trip: from the API's request to the task workflow's verdict",
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_FromTheDatabase(engine))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
