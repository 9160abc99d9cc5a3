"""What every process shares: its input and run, its live state as the API shows it, and its
catalogue entry (the one place that names its workflow type, policy and roles)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from workflows.contracts.departments import Department
from workflows.contracts.priority import Priority
from workflows.contracts.queues import Queues
from workflows.contracts.roles import Role
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
    # What insight's event log records of the step, besides the above.
    activity: str = Field("", description="the step's kind, without its particulars")
    stage: str = ""
    department: str = ""
    by: str = Field("", description="who or what did it: the bot, the model, the people")
    outcome: str = ""
    objects: list[str] = Field(default_factory=list, description='"type:id" it touched')
    role: str = Field("", description="a human step's role")
    confidence: float | None = None
    overridden: bool | None = Field(
        None, description="an AI answer people reviewed: whether they changed or refused it"
    )
    tokens: int = Field(0, description="an AI step's tokens, where a remote model reports them")
    human_minutes: float = Field(0.0, description="a human step's handling time")
    due_at: datetime | None = None
    escalations: int = 0
    expired: bool = False


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
    started_at: datetime | None = None
    requested_by: str = ""
    priority: Priority = Priority.NORMAL
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="what its decision points were decided on (amount, risk, confidences)",
    )
    time_scale: float = Field(1.0, description="a simulated run's compression of its waits")


# Customer and vendor ids are searchable (BatonCustomer): ids only, never free text such as an
# e-mail address, which would be indexed in clear.
COUNTERPARTY_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ProcessInput(BaseModel):
    """What a person or a system sends to start a process; each process type extends it."""

    def title(self) -> str:
        """The run's title in the Temporal UI."""
        return type(self).__name__

    def counterparty(self) -> str:
        """The customer or vendor it concerns, searchable as BatonCustomer."""
        return ""

    def urgency(self) -> Priority:
        return Priority.NORMAL


class ProcessRun(BaseModel):
    """What a process workflow receives besides its input: who asked, its policy, its queues.
    Each process type extends it with one field holding its input and a typed `policy`."""

    business_key: str
    requested_by: str
    queues: Queues = Field(default_factory=Queues)
    priority: Priority = Priority.NORMAL
    insight_log: bool = True  # whether the run writes insight's event log as it goes
    # A simulated run's compression: its people and timers ran this many times faster than
    # business time; insight counts their waits back in business time. 1 for real runs.
    time_scale: float = Field(1.0, ge=1.0)


class ProcessPolicy(BaseModel):
    """A process type's thresholds and durations (set by BATON_POLICIES). Its decision points
    are functions of the policy and the facts a run recorded, so the workflow decides by them
    and insight's what-if replays them under another policy."""

    # The human activities whose need the policy decides (e.g. "approval").
    decision_points: ClassVar[tuple[str, ...]] = ()

    def people_needed(self, facts: dict[str, Any]) -> set[str]:
        """The decision points a run with these facts goes to people at, under this policy."""
        return set()


@dataclass(frozen=True)
class StartContext:
    """What the starter knows besides the input when it starts a process."""

    business_key: str
    requested_by: str
    queues: Queues
    policy: BaseModel
    insight_log: bool = True
    time_scale: float = 1.0


@dataclass(frozen=True)
class DesignedStage:
    """A stage of a process's design and the activities it may run, in any order (some
    optional, some in parallel). A run conforms when each of its steps, in the order they
    ran, is an activity of the same stage as the step before it or of a later one (an
    activity may belong to several stages)."""

    name: str
    activities: tuple[str, ...]


@dataclass(frozen=True)
class ProcessType:
    """A process type's catalogue entry, declared beside its contracts."""

    name: str  # e.g. order-fulfillment: the API path and the BatonProcessType value
    workflow: str  # the workflow type name in Temporal
    description: str
    roles: tuple[Role, ...]
    input_model: type[ProcessInput]
    run_model: type[ProcessRun]
    input_field: str  # the field of the run that holds the input
    policy_model: type[ProcessPolicy]  # thresholds and durations, set by BATON_POLICIES
    key_prefix: str  # business keys read like SO-7F3A9C21D0
    department: Department  # where it starts; steps no one department owns count here
    design: tuple[DesignedStage, ...]  # its stages as designed, for insight's conformance
    noun: str = "process"  # what people call one, in sentences: "You requested this order"
    # The signals other systems may send a run (business events), and each one's payload.
    signals: Mapping[str, type[BaseModel]] = field(default_factory=dict)

    def make_run(self, process_input: ProcessInput, context: StartContext) -> ProcessRun:
        return self.run_model.model_validate(
            {
                self.input_field: process_input,
                "business_key": context.business_key,
                "requested_by": context.requested_by,
                "queues": context.queues,
                "policy": context.policy,
                "priority": process_input.urgency(),
                "insight_log": context.insight_log,
                "time_scale": context.time_scale,
            }
        )


def process_id_for(process_type: str, business_key: str) -> str:
    """Workflow ids are business keys: `order-fulfillment:SO-1A2B3C`."""
    return f"{process_type}:{business_key}"


def business_key_of(workflow_id: str, process_type: str, given: str) -> str:
    """A run's business key: the one it was given, except in a run a schedule started, whose id
    is the schedule's process id and the time it fired, which Temporal appends
    (`payables-review:PAY-daily-2026-11-28T07:00:00Z`): its key is that id after the type."""
    fired = f"{process_id_for(process_type, given)}-"
    return workflow_id.removeprefix(f"{process_type}:") if workflow_id.startswith(fired) else given
