"""How urgent a process is: its steps, and its tasks in the inbox, go first when work backs up."""

from enum import StrEnum


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # its bot and AI steps jump the queues (Temporal task priority)

    @property
    def key(self) -> int:
        """Temporal's priority key: lower runs first."""
        return 1 if self is Priority.URGENT else 3
