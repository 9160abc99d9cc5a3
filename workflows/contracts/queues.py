"""Task-queue names: one worker pool per queue, each with its own concurrency limits."""

from enum import StrEnum


class TaskQueue(StrEnum):
    PROCESSES = "processes"  # workflow code only
    BOTS = "bots"  # connectors to business systems (robot licences)
    AI = "ai"  # classification, extraction, scoring (model or rate limits)
    INBOX = "inbox"  # human-task inbox and decision ledger (database writes)
