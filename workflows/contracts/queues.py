"""Task-queue names: one worker pool per queue, each with its own concurrency limits."""

from enum import StrEnum

from pydantic import BaseModel


class TaskQueue(StrEnum):
    PROCESSES = "processes"  # workflow code only
    BOTS = "bots"  # connectors to business systems (robot licences)
    AI = "ai"  # classification, extraction, scoring (model or rate limits)
    INBOX = "inbox"  # human-task inbox and decision ledger (database writes)


class Queues(BaseModel):
    """Where a run sends its activities. Travels in workflow inputs so that a deployment (or a
    test) can route one run's steps to pools of its own."""

    bots: str = TaskQueue.BOTS.value
    ai: str = TaskQueue.AI.value
    inbox: str = TaskQueue.INBOX.value

    @classmethod
    def prefixed(cls, prefix: str) -> "Queues":
        return cls(**{name: f"{prefix}{value}" for name, value in cls().model_dump().items()})
