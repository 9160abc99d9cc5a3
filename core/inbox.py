"""The human-task inbox: a projection of the task workflows, written only by inbox activities.

Every write carries the workflow's sequence number, so a retried or late write changes nothing.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, String, cast, or_, true
from sqlmodel import Field, Session, SQLModel, col, select

from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskForm, TaskRecord, TaskStatus


class HumanTask(SQLModel, table=True):
    __tablename__ = "human_tasks"

    task_id: str = Field(primary_key=True, max_length=300)
    process_id: str = Field(index=True, max_length=300)
    process_type: str = Field(max_length=100)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=50)
    title: str
    description: str = ""
    form: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    candidate_roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    assignee: str | None = Field(default=None, index=True)
    requester: str | None = None
    status: str = Field(default=TaskStatus.OPEN.value, index=True)
    outcome: str | None = None
    escalation_level: int = 0
    approval_level: int = 0
    due_at: datetime | None = None
    created_at: datetime
    closed_at: datetime | None = None
    updated_at: datetime
    seq: int = 0  # the workflow's counter of inbox writes; older writes are ignored
    history: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))

    @property
    def task_form(self) -> TaskForm:
        return TaskForm.model_validate(self.form)


def write_task(session: Session, record: TaskRecord) -> bool:
    """Creates or updates the task from the workflow's record; False when it is stale."""
    task = session.get(HumanTask, record.task_id)
    if task is not None and task.seq >= record.seq:
        return False
    values = record.model_dump(mode="json", exclude={"event"})
    values.update(
        form=record.form.model_dump(mode="json"),
        due_at=record.due_at,
        created_at=record.created_at,
        closed_at=record.closed_at,
        updated_at=datetime.now(UTC),
    )
    if task is None:
        task = HumanTask(**values, history=[])
    else:
        for name, value in values.items():
            setattr(task, name, value)
    if record.event:
        entry = {"at": datetime.now(UTC).isoformat(), "event": record.event}
        task.history = [*task.history, entry]  # a new list, so the JSON column is saved
    session.add(task)
    return True


def visible_to(name: str, roles: list[str]) -> ColumnElement[bool]:
    """SQL condition: tasks a user may see (their roles are candidates, or it is theirs)."""
    if Role.ADMIN.value in roles:
        return true()
    # The JSON array is matched as text: the same SQL on SQLite and PostgreSQL.
    as_text = cast(HumanTask.__table__.c.candidate_roles, String)  # type: ignore[attr-defined]
    return or_(col(HumanTask.assignee) == name, *(as_text.contains(f'"{r}"') for r in roles))


def list_tasks(
    session: Session,
    name: str,
    roles: list[str],
    *,
    status: TaskStatus | None,
    process_id: str | None,
    limit: int,
    offset: int,
) -> list[HumanTask]:
    query = select(HumanTask).where(visible_to(name, roles))
    if status is not None:
        query = query.where(HumanTask.status == status.value)
    if process_id is not None:
        query = query.where(HumanTask.process_id == process_id)
    query = query.order_by(col(HumanTask.created_at), col(HumanTask.task_id))
    return list(session.exec(query.offset(offset).limit(limit)).all())


def may_see(task: HumanTask, name: str, roles: list[str]) -> bool:
    return (
        Role.ADMIN.value in roles
        or task.assignee == name
        or bool(set(task.candidate_roles) & set(roles))
    )
