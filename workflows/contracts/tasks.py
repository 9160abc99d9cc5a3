"""Human tasks: what a workflow asks of people, what people answer, and what the inbox shows."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field, model_validator

from workflows.contracts.priority import Priority
from workflows.contracts.queues import Queues
from workflows.contracts.roles import Role


class InboxActivity(StrEnum):
    WRITE_TASK = "inbox.write_task"
    RECORD_DECISION = "inbox.record_decision"
    GET_USER = "inbox.get_user"
    RECORD_ACTION = "inbox.record_action"


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    OBJECT = "object"
    ARRAY = "array"


class FormField(BaseModel):
    name: str
    type: FieldType = FieldType.STRING
    label: str = ""
    required: bool = False
    default: Any = None  # pre-filled value, e.g. what AI extracted


# How each field type is checked (Python types of its JSON value) and described (JSON schema).
_FIELD_TYPES: dict[FieldType, tuple[tuple[type, ...], dict[str, str]]] = {
    FieldType.STRING: ((str,), {"type": "string"}),
    FieldType.NUMBER: ((int, float), {"type": "number"}),
    FieldType.INTEGER: ((int,), {"type": "integer"}),
    FieldType.BOOLEAN: ((bool,), {"type": "boolean"}),
    FieldType.DATE: ((str,), {"type": "string", "format": "date"}),
    FieldType.OBJECT: ((dict,), {"type": "object"}),
    FieldType.ARRAY: ((list,), {"type": "array"}),
}


class FormProblem(NamedTuple):
    field: str  # outcome, comment or data.<name>
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class TaskForm(BaseModel):
    outcomes: list[str] = Field(default_factory=lambda: ["approve", "reject"], min_length=1)
    fields: list[FormField] = Field(default_factory=list)
    comment_required_for: list[str] = Field(default_factory=list)

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of a decision's `data`."""
        return {
            "type": "object",
            "properties": {
                field.name: {
                    **_FIELD_TYPES[field.type][1],
                    "title": field.label or field.name,
                    **({"default": field.default} if field.default is not None else {}),
                }
                for field in self.fields
            },
            "required": [field.name for field in self.fields if field.required],
        }

    def problems(
        self, outcome: str | None, comment: str, data: dict[str, Any]
    ) -> list[FormProblem]:
        """Everything wrong with a decision. The API checks before it sends one and the task
        workflow again when one arrives (from the UI or the CLI too): one function for both."""
        found = []
        if outcome not in self.outcomes:
            found.append(
                FormProblem("outcome", f"unknown outcome {outcome!r}; one of {self.outcomes}")
            )
        elif outcome in self.comment_required_for and not comment.strip():
            found.append(FormProblem("comment", f"a comment is required to {outcome}"))
        for field in self.fields:
            value = data.get(field.name)
            if value is None:
                if field.required:
                    found.append(FormProblem(f"data.{field.name}", "is required"))
                continue
            kinds = _FIELD_TYPES[field.type][0]
            if not isinstance(value, kinds) or (
                isinstance(value, bool) and field.type is not FieldType.BOOLEAN
            ):
                found.append(FormProblem(f"data.{field.name}", f"must be a {field.type.value}"))
        return found


class EscalationRung(BaseModel):
    """At `after` (counted from the task's creation) the task moves to other people."""

    after: timedelta
    roles: list[Role]
    assignee: str | None = None
    notify: bool = True


class ApprovalRule(BaseModel):
    """How many decisions close the task.

    one: the first valid decision. k_of_n: `k` different people must approve (a rejection by
    anyone vetoes); with `approvers` named, only they count and k defaults to all of them.
    sequential: one decision per level of `levels`, in order; a rejection ends it.
    """

    kind: Literal["one", "k_of_n", "sequential"] = "one"
    k: int | None = Field(None, ge=1)
    approvers: list[str] = Field(default_factory=list)
    levels: list[list[Role]] = Field(default_factory=list)
    approve_outcome: str = "approve"

    @model_validator(mode="after")
    def _complete(self) -> "ApprovalRule":
        if self.kind == "k_of_n" and self.k is None and not self.approvers:
            raise ValueError("k_of_n needs k or a list of approvers")
        if self.kind == "sequential" and not self.levels:
            raise ValueError("sequential approval needs levels")
        return self

    @property
    def needed(self) -> int:
        return self.k or len(self.approvers) or 1


class TaskSpec(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="unique within its process")
    kind: str = "approval"
    title: str
    description: str = ""
    candidate_roles: list[Role] = Field(default_factory=list)
    assignee: str | None = None
    form: TaskForm = Field(default_factory=TaskForm)
    context: dict[str, Any] = Field(default_factory=dict, description="what the person sees")
    due_in: timedelta | None = None
    remind_every: timedelta | None = None
    escalation: list[EscalationRung] = Field(default_factory=list)
    expire_after: timedelta | None = None
    expiry_outcome: str = "expired"
    requester: str | None = None
    four_eyes: bool = True  # the requester may not decide
    approval: ApprovalRule = Field(default_factory=ApprovalRule)
    effort: timedelta = Field(
        timedelta(minutes=5), description="a person's standard handling time per decision"
    )

    def owner(self) -> Role | None:
        """The role whose work the task is, first: its department's in insight."""
        roles = self.candidate_roles or [role for level in self.approval.levels for role in level]
        return roles[0] if roles else None

    def first_due(self) -> timedelta | None:
        """When, from its creation, the task is due before anything escalates or expires it:
        what insight counts as its SLA."""
        if self.due_in is not None:
            return self.due_in
        if self.escalation:
            return self.escalation[0].after
        return self.expire_after

    @model_validator(mode="after")
    def _consistent(self) -> "TaskSpec":
        if not (self.candidate_roles or self.assignee or self.approval.levels):
            raise ValueError("a task needs candidate roles, an assignee or approval levels")
        if self.approval.kind != "one" and self.approval.approve_outcome not in self.form.outcomes:
            raise ValueError(f"the form lacks the outcome {self.approval.approve_outcome!r}")
        return self


class TaskInput(BaseModel):
    """The human-task workflow's input; `state` is set when it continues as new."""

    process_id: str
    process_type: str
    spec: TaskSpec
    queues: Queues = Field(default_factory=Queues)
    priority: Priority = Priority.NORMAL  # the process's: its task sorts first in the inbox
    history_limit: int = Field(2_000, ge=50, description="events before it continues as new")
    state: "TaskState | None" = None


class ActionKind(StrEnum):
    DECIDE = "decide"
    CLAIM = "claim"
    RELEASE = "release"
    REASSIGN = "reassign"


class TaskAction(BaseModel):
    """The one signal a task takes. `action_id` makes a repeated signal count once."""

    action_id: str = Field(min_length=1, max_length=100)
    kind: ActionKind
    user: str
    outcome: str | None = None
    comment: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    assignee: str | None = None  # for reassign
    # The user's roles as Baton's API saw them when it signed: the workflow checks the action
    # with them and its one write confirms them against the database (None: looked up first).
    roles: list[Role] | None = None
    # "key-id:hex HMAC" by Baton's API or CLI over the task and every field above: the task
    # workflow applies only actions whose signature its workers can verify.
    signature: str = Field("", max_length=200)


class Refusal(StrEnum):
    """Why a task refused an action, for programs (the verdict's reason says it for people)."""

    CLOSED = "closed"
    UNKNOWN_USER = "unknown_user"
    FORGED = "forged"
    INVALID = "invalid"  # the form's checks
    LACKS_ROLE = "lacks_role"
    ASSIGNED_ELSEWHERE = "assigned_elsewhere"
    NOT_AN_APPROVER = "not_an_approver"
    FOUR_EYES = "four_eyes"
    ALREADY_DECIDED = "already_decided"
    ALREADY_CLAIMED = "already_claimed"
    NOT_THE_ASSIGNEE = "not_the_assignee"  # only the assignee or an admin may release or reassign
    DELEGATE_LACKS_ROLE = "delegate_lacks_role"


class Verdict(BaseModel):
    action_id: str
    applied: bool
    reason: str = ""  # why it was refused
    status: int = 200  # how the API answers: 200, 403, 409, 422
    refusal: Refusal | None = None  # why, as a code; None for verdicts from before codes


class DecisionPreview(BaseModel):
    """A dry run of a decision: the action as it would be sent and its user's roles."""

    action: TaskAction
    roles: list[Role]


class VerdictLookup(BaseModel):
    verdict: Verdict | None = None  # None until the workflow has handled the action


class Decision(BaseModel):
    user: str
    outcome: str
    comment: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    decided_at: datetime
    level: int = 0


class TaskState(BaseModel):
    created_at: datetime
    candidate_roles: list[Role]
    assignee: str | None
    escalation_level: int = 0
    approval_level: int = 0
    reminders_sent: int = 0
    inbox_seq: int = 0  # inbox writes so far; the inbox ignores older ones
    decisions: list[Decision] = Field(default_factory=list)
    verdicts: dict[str, Verdict] = Field(default_factory=dict)


class TaskResult(BaseModel):
    task_id: str
    outcome: str
    expired: bool = False
    cancelled: bool = False
    decisions: list[Decision] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""
    escalation_level: int = 0
    created_at: datetime | None = None  # when the task opened (None from older runs)

    @property
    def decided_by(self) -> list[str]:
        return [decision.user for decision in self.decisions]


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class TaskRecord(BaseModel):
    """What the inbox shows of a task; the workflow writes it through inbox activities."""

    task_id: str
    process_id: str
    process_type: str
    name: str
    kind: str
    title: str
    description: str = ""
    form: TaskForm
    context: dict[str, Any] = Field(default_factory=dict)
    candidate_roles: list[Role]
    assignee: str | None
    requester: str | None
    priority: Priority = Priority.NORMAL
    status: TaskStatus = TaskStatus.OPEN
    outcome: str | None = None
    escalation_level: int = 0
    approval_level: int = 0
    due_at: datetime | None = None
    created_at: datetime
    closed_at: datetime | None = None
    event: str = Field("", description="what changed, for the task's history")
    seq: int = Field(0, description="the workflow's count of inbox writes; orders them")


class ActorKind(StrEnum):
    HUMAN = "human"
    AI = "ai"
    BOT = "bot"
    SYSTEM = "system"


class LedgerEntry(BaseModel):
    """One decision by anyone or anything, as the ledger keeps it."""

    decision_id: str
    process_id: str
    step: str
    actor_kind: ActorKind
    actor: str
    outcome: str
    comment: str = ""
    confidence: float | None = Field(None, ge=0, le=1)
    data: dict[str, Any] = Field(default_factory=dict)
    applied: bool = True
    reason: str = ""
    decided_at: datetime


class UserRequest(BaseModel):
    name: str
    # When given, the look-up also verifies the action's signature (the workers hold the keys).
    task_id: str = ""
    action: TaskAction | None = None


class UserInfo(BaseModel):
    name: str
    exists: bool
    roles: list[Role] = Field(default_factory=list)
    signed: bool | None = None  # whether the action's signature is valid; None: none asked


class ActionWrite(BaseModel):
    """What an applied action changes, written in one transaction: the task's inbox entry and,
    for a decision, its ledger entry. With `check`, written only if that action is signed by
    Baton and its user exists with the roles it claims."""

    task: TaskRecord
    entry: LedgerEntry | None = None
    check: TaskAction | None = None


class ActionWritten(BaseModel):
    written: bool
    user: UserInfo | None = None  # when a check failed: the user as the database has them


TaskInput.model_rebuild()  # it refers to TaskState, defined after it


# The task workflow's handler names, so the API can reach it without importing workflow code.
TASK_WORKFLOW = "HumanTask"
ACT_SIGNAL = "act"  # for the Temporal UI, the CLI and scripts
ACT_UPDATE = "act_and_answer"  # for the API: the same checks, answered with the verdict
# The error type of the update's refusal of a malformed action (kept out of the history).
REFUSED_MALFORMED = "malformed_action"
VERDICT_QUERY = "verdict"
PREVIEW_QUERY = "preview"  # would this decision be applied? (changes nothing)


def task_id_for(process_id: str, name: str) -> str:
    """A task's id, which is also its workflow's id: readable and unique per process."""
    return f"{process_id}:task:{name}"
