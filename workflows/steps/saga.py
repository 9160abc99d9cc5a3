"""Compensation: undo what a process did, in reverse order, each undo exactly once."""

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError


class Saga:
    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], Awaitable[Any]]]] = []

    def on_undo(self, name: str, undo: Callable[[], Awaitable[Any]]) -> None:
        self._undo.append((name, undo))

    @property
    def pending(self) -> list[str]:
        return [name for name, _ in self._undo]

    async def compensate(self) -> list[str]:
        """Runs every undo, last first; returns what it undid. An undo that the system reports
        as already done (409 already_*) counts as done."""
        undone = []
        while self._undo:
            name, undo = self._undo.pop()
            try:
                await undo()
            except ActivityError as exc:
                cause = exc.cause
                if not (
                    isinstance(cause, ApplicationError)
                    and (cause.type or "").startswith("already_")
                ):
                    workflow.logger.error("compensation %s failed: %s", name, exc)
                    raise
            undone.append(name)
        return undone
