"""What each task queue runs; every process and step registers its workflows and activities here."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workflows.contracts.queues import TaskQueue


@dataclass(frozen=True)
class QueueContent:
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()
    max_concurrent_activities: int | None = None

    @property
    def empty(self) -> bool:
        return not self.workflows and not self.activities


def content_for(queue: TaskQueue) -> QueueContent:
    """The workflows and activities registered on `queue`."""
    return _CONTENT.get(queue, QueueContent())


# Filled in as processes (workflows) and steps (bots, AI, inbox activities) land.
_CONTENT: dict[TaskQueue, QueueContent] = {}
