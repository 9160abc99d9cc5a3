"""Compensation: undo what a process did, in reverse order, each undo exactly once."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

T = TypeVar("T")


async def all_settled(*steps: Awaitable[T]) -> list[T]:
    """Runs steps in parallel and lets every one finish (and register its undo) before a
    failure of any counts: compensation then never misses what a sibling did meanwhile."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes  # type: ignore[return-value]  # no exceptions left


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
                    self._undo.append((name, undo))  # still pending: a person must undo it
                    raise
            undone.append(name)
        return undone
