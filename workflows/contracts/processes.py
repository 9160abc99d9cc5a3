"""What every process shares: its live state as the API shows it, and the catalogue entry."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from workflows.contracts.tasks import ActorKind

STATE_QUERY = "state"


class ProcessStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # for a person
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class StepStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    COMPENSATED = "compensated"


class Step(BaseModel):
    name: str
    actor: ActorKind
    status: StepStatus = StepStatus.RUNNING
    started_at: datetime
    ended_at: datetime | None = None
    detail: str = ""


class OpenTask(BaseModel):
    task_id: str
    title: str
    candidate_roles: list[str]


class ProcessState(BaseModel):
    process_id: str
    process_type: str
    business_key: str
    status: ProcessStatus = ProcessStatus.RUNNING
    stage: str = "started"
    reason: str = ""
    steps: list[Step] = Field(default_factory=list)
    open_tasks: list[OpenTask] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="the process's own view")
    result: dict[str, Any] | None = None


def process_id_for(process_type: str, business_key: str) -> str:
    """Workflow ids are business keys: `order-fulfillment:SO-1A2B3C`."""
    return f"{process_type}:{business_key}"
