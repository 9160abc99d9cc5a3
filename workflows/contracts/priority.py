"""How urgent a process is: its steps, and its tasks in the inbox, go first when work backs up."""

from enum import StrEnum

from temporalio.common import Priority as TemporalPriority


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # its bot and AI steps jump the queues (Temporal task priority)

    @property
    def key(self) -> int:
        """Temporal's priority key: lower runs first."""
        return 1 if self is Priority.URGENT else 3

    def for_temporal(self, process_type: str) -> TemporalPriority:
        """A run's tasks, workflow and activity alike: urgent first (priority key) and, within
        a priority, each process type its share of a queue (fairness key), so a burst of one
        type does not starve the others."""
        return TemporalPriority(priority_key=self.key, fairness_key=process_type)
