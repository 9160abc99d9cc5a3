"""Insight's activity name: the process kit writes a run's event log through it."""

from enum import StrEnum


class InsightActivity(StrEnum):
    RECORD_RUN = "insight.record_run"  # takes the run's ProcessState, returns whether it wrote
