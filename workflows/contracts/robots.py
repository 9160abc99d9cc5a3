"""Jobs for external robot pools (RPA tools, desktop scripts) that work through the API."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

# Workflows call the activity by this name, so they never import its implementation.
RUN_ROBOT_JOB = "robots.run_job"
# The ApplicationError type of a job a robot failed; non-retryable when the robot said so.
ROBOT_JOB_FAILED = "RobotJobFailed"

# Pool and kind names travel in URLs and logs: keep them to plain slugs.
_SLUG = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class JobStatus(StrEnum):
    OPEN = "open"  # offered to the pool, nobody has it yet
    TAKEN = "taken"  # a robot works on it and heartbeats
    COMPLETED = "completed"
    FAILED = "failed"
    # Temporal no longer waits for it: a newer attempt replaced it, it timed out or was cancelled.
    ABANDONED = "abandoned"


class RobotJobRequest(BaseModel):
    pool: str = Field(min_length=1, max_length=100, pattern=_SLUG)
    kind: str = Field(min_length=1, max_length=100, pattern=_SLUG, description="what to do")
    payload: dict[str, Any] = Field(default_factory=dict, description="the robot's input")
    title: str = Field("", max_length=200, description="one line for the people who watch")
    summary: str = Field("", max_length=2000, description="more context for people")


class RobotJobResult(BaseModel):
    output: dict[str, Any] = Field(default_factory=dict)
    robot: str = Field(description="the name of the robot (user) that did the job")
