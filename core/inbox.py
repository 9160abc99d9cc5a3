"""The human-task inbox: a projection of the task workflows, written only by inbox activities.

Every write carries the workflow's sequence number, so a retried or late write changes nothing.

Listing stays fast at any size. Each task has one row per audience in `human_task_candidates`
(each candidate role, and its assignee as `user:<name>`), written in the task's transaction and
carrying what the inbox filters and sorts on. A user's page is found by index range scans, one
per audience they belong to (and per escalated or not), each stopping after a page; the scans
are merged and the page's tasks read by key. Admins, who see every task, are served the same way
from `human_tasks` itself. Pages follow a keyset cursor (the last task's sort key), never an
offset, and nothing counts all rows.
"""

import base64
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, TypeAdapter, conint, constr
from sqlalchemy import (
    JSON,
    BindParameter,
    Column,
    ColumnElement,
    Engine,
    Index,
    Select,
    Table,
    bindparam,
    case,
    delete,
    inspect,
    literal,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer
from sqlalchemy.sql import FromClause, Subquery, exists, func, union, union_all
from sqlalchemy.sql import select as sql_select
from sqlmodel import Field, Session, SQLModel, select
from sqlmodel.sql.expression import SelectOfScalar

from core.schema import add_columns
from workflows.contracts.priority import Priority
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskForm, TaskRecord, TaskStatus

# The due key of a task without a due time: it sorts last.
NO_DUE_TIME = datetime(9999, 12, 31, tzinfo=UTC)


class TaskSort(StrEnum):
    CREATED = "created"  # oldest first
    DUE = "due"  # soonest due first; tasks without a due time last
    PRIORITY = "priority"  # urgent first, then oldest


# Each order's sort key; the task id last, so that the key orders every task one way.
SORT_KEYS: dict[TaskSort, tuple[str, ...]] = {
    TaskSort.CREATED: ("created_at", "task_id"),
    TaskSort.DUE: ("due_key", "created_at", "task_id"),
    TaskSort.PRIORITY: ("priority_key", "created_at", "task_id"),
}


def _listing_indexes(table: str, *scope: str) -> tuple[Index, ...]:
    """Per sort order, two indexes: every column before the sort key is one a listing's scan
    matches exactly (its scope, the status, the escalation and, filtered by it, the process
    type). So a scan finds its page by a range, however few rows match, and SQLite, which
    keeps no statistics, has but one index that fits. The due key ends every index, so the
    overdue filter reads it there."""
    indexes: list[Index] = []
    for sort, keys in SORT_KEYS.items():
        columns = [*keys, *([] if "due_key" in keys else ["due_key"])]
        indexes += [
            Index(f"ix_{table}_by_{sort.value}", *scope, "status", "escalated", *columns),
            Index(
                f"ix_{table}_of_type_by_{sort.value}",
                *scope,
                "status",
                "process_type",
                "escalated",
                *columns,
            ),
        ]
    return tuple(indexes)


class InboxKeys(SQLModel):
    """What the inbox filters and sorts on: kept on a task and on each of its audience rows."""

    status: str = TaskStatus.OPEN.value
    process_type: str = Field(max_length=100)
    escalation_level: int = 0
    escalated: bool = False  # escalation_level > 0
    created_at: datetime
    due_key: datetime = NO_DUE_TIME  # due_at, or NO_DUE_TIME: never null, so keysets compare
    priority_key: int = Priority.NORMAL.key  # urgent (1) sorts before normal (3)


class HumanTask(InboxKeys, table=True):
    __tablename__ = "human_tasks"
    __table_args__ = _listing_indexes("human_tasks")

    task_id: str = Field(primary_key=True, max_length=300)
    process_id: str = Field(index=True, max_length=300)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=50)
    title: str
    description: str = ""
    form: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    candidate_roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    assignee: str | None = Field(default=None, index=True)
    requester: str | None = None
    priority: str = Field(default=Priority.NORMAL.value, max_length=20)
    outcome: str | None = None
    approval_level: int = 0
    due_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime
    seq: int = 0  # the workflow's counter of inbox writes; older writes are ignored
    history: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))

    @property
    def task_form(self) -> TaskForm:
        return TaskForm.model_validate(self.form)


class TaskCandidate(InboxKeys, table=True):
    """Who may see a task: a row per candidate role and one for its assignee. A closed task
    keeps its rows with its status, so it leaves every open listing and stays findable."""

    __tablename__ = "human_task_candidates"
    __table_args__ = _listing_indexes("human_task_candidates", "audience")

    task_id: str = Field(primary_key=True, foreign_key="human_tasks.task_id", max_length=300)
    audience: str = Field(primary_key=True, max_length=150)  # a role, or user:<name>


_TASKS: Table = HumanTask.__table__  # type: ignore[attr-defined]
_CANDIDATES: Table = TaskCandidate.__table__  # type: ignore[attr-defined]
_KEYS = set(InboxKeys.model_fields)


def _user_audience(name: str) -> str:
    return f"user:{name}"  # no role holds a colon


def audience_of(candidate_roles: list[str], assignee: str | None) -> set[str]:
    """Who may see a task, besides admins: each candidate role, and its assignee."""
    return {*candidate_roles, *([_user_audience(assignee)] if assignee else [])}


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
        escalated=record.escalation_level > 0,
        due_key=record.due_at or NO_DUE_TIME,
        priority_key=record.priority.key,
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
    _write_audience(session, task)
    return True


def _write_audience(session: Session, task: HumanTask) -> None:
    """Replaces the task's audience rows: its roles change when it escalates or a sequential
    approval moves a level, its assignee when it is claimed, its keys with every write."""
    session.exec(delete(TaskCandidate).where(_CANDIDATES.c.task_id == task.task_id))
    keys = task.model_dump(include=_KEYS)
    session.add_all(
        TaskCandidate(task_id=task.task_id, audience=audience, **keys)
        for audience in audience_of(task.candidate_roles, task.assignee)
    )


@dataclass(frozen=True)
class Listing:
    """What a listing asks for, besides who asks."""

    status: TaskStatus = TaskStatus.OPEN
    process_id: str | None = None
    process_type: str | None = None
    escalated: bool | None = None
    overdue: bool | None = None  # due before now
    assigned_to_me: bool = False
    sort: TaskSort = TaskSort.CREATED
    after: tuple[Any, ...] | None = None  # the sort key of the previous page's last task


def list_tasks(
    session: Session, name: str, roles: list[str], listing: Listing, *, limit: int
) -> list[HumanTask]:
    """Up to `limit` tasks the user may see that match `listing`, in its order; without what a
    listing never shows (description, form, context, history), which is not loaded."""
    audiences = _audiences(name, roles, listing.assigned_to_me)
    shape = _Shape(
        sort=listing.sort,
        audiences=None if audiences is None else len(audiences),
        kinds=(False, True) if listing.escalated is None else (listing.escalated,),
        by_process=listing.process_id is not None,
        by_type=listing.process_type is not None,
        overdue=listing.overdue,
        after=listing.after is not None,
    )
    values = {
        "status": listing.status.value,
        "process_id": listing.process_id,
        "process_type": listing.process_type,
        "now": datetime.now(UTC),
        "limit": limit,
        "few": FEW,
        **{f"audience_{i}": audience for i, audience in enumerate(audiences or [])},
        **{f"after_{i}": value for i, value in enumerate(listing.after or ())},
    }
    few = shape.overdue is not None and shape.sort is not TaskSort.DUE and not shape.by_process
    few = few and session.exec(_few_probe(shape), params=values).one() <= FEW
    return list(session.exec(_page(shape, few), params=values).all())


def _audiences(name: str, roles: list[str], mine_only: bool) -> list[str] | None:
    """The audiences whose tasks a user sees; None for every task (an admin's inbox)."""
    if mine_only:
        return [_user_audience(name)]
    if Role.ADMIN.value in roles:
        return None
    return [_user_audience(name), *roles]


@dataclass(frozen=True)
class _Shape:
    """What a listing's statements depend on. They are built once per shape, with the values
    as parameters: building one costs more than running it."""

    sort: TaskSort
    audiences: int | None  # how many the user belongs to; None: every task (an admin's)
    kinds: tuple[bool, ...]  # escalated or not, scanned apart
    by_process: bool
    by_type: bool
    overdue: bool | None
    after: bool


# A listing by overdue (or not) in another order than due: if its due condition keeps up to this
# many tasks, its scans take them from the due index and sort them; else they walk the sort
# index and skip the others, which costs a range of (rows in scope / this) per page at worst.
FEW = 2_000


@functools.cache
def _page(shape: _Shape, few: bool) -> SelectOfScalar[HumanTask]:
    """The statement of a listing's page."""
    tasks = _TASKS.c
    # JSON columns cost more to read than the rest of a page together.
    unlisted = ("description", "form", "context", "history")
    query = select(HumanTask).options(*(defer(getattr(HumanTask, name)) for name in unlisted))
    if shape.by_process:
        # A process has a handful of tasks: found by the process index, each checked visible.
        # The status is matched as an expression that no index serves: SQLite, keeping no
        # statistics, would walk a sort index of all tasks with that status to spare a tiny sort.
        source: FromClause = _TASKS
        query = query.where(
            tasks.process_id == bindparam("process_id"),
            tasks.status.concat("") == bindparam("status"),
            tasks.escalated.in_(shape.kinds),
            *_matching(_TASKS, shape),
            *_after(_TASKS, shape),
        )
        if shape.audiences is not None:
            seen_by = _CANDIDATES.c.audience.in_(_audience_values(shape.audiences))
            query = query.where(exists().where(_CANDIDATES.c.task_id == tasks.task_id, seen_by))
    else:
        source = _merged(shape, few)
        query = query.join(source, source.c.task_id == tasks.task_id)
    order = [source.c[key] for key in SORT_KEYS[shape.sort]]
    return query.order_by(*order).limit(bindparam("limit"))


Scan = list[ColumnElement[bool]]


def _scans(shape: _Shape) -> tuple[Table, list[Scan]]:
    """Where an inbox's page is found: each audience's rows (for an admin, the tasks
    themselves), escalated and not apart unless the listing asks for one kind, so that each
    scan matches every index column before the sort key. Returns the table, and what each
    scan of it matches besides the cursor."""
    table = _TASKS if shape.audiences is None else _CANDIDATES
    scopes: list[Scan] = [[]]
    if shape.audiences is not None:
        scopes = [[table.c.audience == value] for value in _audience_values(shape.audiences)]
    matching = [table.c.status == bindparam("status"), *_matching(table, shape)]
    return table, [
        [*scope, table.c.escalated == kind, *matching] for scope in scopes for kind in shape.kinds
    ]


@functools.cache
def _few_probe(shape: _Shape) -> SelectOfScalar[int]:
    """Counts the tasks the scans keep, stopping past FEW."""
    table, scans = _scans(shape)
    kept = [
        select(table.c.task_id).where(*scan).order_by(table.c.due_key).limit(bindparam("few") + 1)
        for scan in scans
    ]
    # The outer limit stops the scans as soon as they have kept more than FEW between them.
    counted = union_all(*(query.subquery().select() for query in kept))
    return select(func.count()).select_from(counted.limit(bindparam("few") + 1).subquery())


def _merged(shape: _Shape, few: bool) -> Subquery:
    """The page's sort keys: each scan's first `limit` in the listing's order, merged."""
    table, scans = _scans(shape)
    keys = SORT_KEYS[shape.sort]

    def first(scan: Scan) -> Subquery:
        source: FromClause
        query: Select[Any]
        if few:  # from the due index, the only one ordered so; then sorted
            kept = select(*(table.c[key] for key in keys)).where(*scan)
            source = kept.order_by(table.c.due_key).limit(bindparam("few")).subquery()
            query = source.select().where(*_after(source, shape))
        else:
            source = table
            query = select(*(table.c[key] for key in keys)).where(*scan, *_after(table, shape))
        return query.order_by(*(source.c[key] for key in keys)).limit(bindparam("limit")).subquery()

    # UNION, not UNION ALL: a task seen through two audiences is one task.
    merged = union(*(first(scan).select() for scan in scans)).subquery()
    order = [merged.c[key] for key in keys]
    return merged.select().order_by(*order).limit(bindparam("limit")).subquery()


def _audience_values(count: int) -> list[BindParameter[str]]:
    return [bindparam(f"audience_{i}") for i in range(count)]


def _matching(table: Table, shape: _Shape) -> list[ColumnElement[bool]]:
    """The listing's filters besides its status and escalation, which each source matches its
    own way."""
    found: list[ColumnElement[bool]] = []
    if shape.by_type:
        found.append(table.c.process_type == bindparam("process_type"))
    if shape.overdue is not None:
        now = bindparam("now", type_=table.c.due_key.type)
        found.append(table.c.due_key < now if shape.overdue else table.c.due_key >= now)
    return found


def _after(source: FromClause, shape: _Shape) -> list[ColumnElement[bool]]:
    """The rows after the cursor's, if there is one."""
    if not shape.after:
        return []
    key = [source.c[name] for name in SORT_KEYS[shape.sort]]
    after = [bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(key)]
    return [tuple_(*key) > tuple_(*after)]


# -- cursors ----------------------------------------------------------------------------------


class BadCursor(ValueError):
    pass


# What each sort key's value may be: what the database takes (a cursor is the caller's input).
_Moment = Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]
_KEY_TYPES: dict[str, TypeAdapter[Any]] = {
    "created_at": TypeAdapter(_Moment),
    "due_key": TypeAdapter(_Moment),
    "priority_key": TypeAdapter(conint(ge=0, le=100)),
    "task_id": TypeAdapter(constr(max_length=300, pattern=r"^[^\x00]*$")),
}


def cursor_after(task: HumanTask, sort: TaskSort) -> str:
    """The cursor of the page after `task`: its sort key, opaque to callers."""
    key = [sort.value, *(getattr(task, name) for name in SORT_KEYS[sort])]
    return base64.urlsafe_b64encode(json.dumps(key, default=datetime.isoformat).encode()).decode()


def read_cursor(cursor: str, sort: TaskSort) -> tuple[Any, ...]:
    """The sort key a cursor holds; BadCursor unless it is one of ours for this sort order."""
    names = SORT_KEYS[sort]
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(key, list) or key[:1] != [sort.value] or len(key) != len(names) + 1:
            raise BadCursor("not a cursor of this sort order")
        return tuple(_KEY_TYPES[n].validate_python(v) for n, v in zip(names, key[1:], strict=True))
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: a moment in year 0
        reason = exc if isinstance(exc, BadCursor) else "not a cursor this API gave"
        raise BadCursor(f"{reason}; send the next_cursor of the previous page") from exc


@dataclass(frozen=True)
class InboxCounts:
    """How many open tasks a user sees, in all and by what the inbox filters on. Counting stops
    at `COUNT_CAP` tasks (`capped`), so a huge inbox costs no more than a capped count."""

    total: int
    escalated: int
    overdue: int
    mine: int
    by_type: dict[str, int]
    capped: bool


COUNT_CAP = 10_000


def count_open(session: Session, name: str, roles: list[str]) -> InboxCounts:
    audiences = _audiences(name, roles, mine_only=False)
    table = _TASKS if audiences is None else _CANDIDATES
    mine = _user_audience(name)
    assigned = (
        (_TASKS.c.assignee == name) if audiences is None else (_CANDIDATES.c.audience == mine)
    )
    scope = [table.c.status == TaskStatus.OPEN.value]
    if audiences is not None:
        scope.append(table.c.audience.in_(audiences))
    # One row per task (a task has a row per audience); at most the cap of them.
    rows = (
        sql_select(
            table.c.task_id,
            func.max(table.c.process_type).label("process_type"),
            func.max(table.c.escalation_level).label("level"),
            func.min(table.c.due_key).label("due_key"),
            func.max(case((assigned, 1), else_=0)).label("mine"),
        )
        .where(*scope)
        .group_by(table.c.task_id)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    now = datetime.now(UTC)
    counted = session.execute(
        sql_select(
            rows.c.process_type,
            func.count(),
            func.sum(case((rows.c.level > 0, 1), else_=0)),
            func.sum(case((rows.c.due_key < now, 1), else_=0)),
            func.sum(rows.c.mine),
        ).group_by(rows.c.process_type)
    ).all()
    by_type = {ptype: int(count) for ptype, count, *_ in counted}
    return InboxCounts(
        total=sum(by_type.values()),
        escalated=sum(int(row[2] or 0) for row in counted),
        overdue=sum(int(row[3] or 0) for row in counted),
        mine=sum(int(row[4] or 0) for row in counted),
        by_type=by_type,
        capped=sum(by_type.values()) > COUNT_CAP,
    )


def may_see(task: HumanTask, name: str, roles: list[str]) -> bool:
    return (
        Role.ADMIN.value in roles
        or task.assignee == name
        or bool(set(task.candidate_roles) & set(roles))
    )


# -- upgrading an earlier version's inbox -----------------------------------------------------


def add_listing_columns(engine: Engine) -> list[str]:
    """Adds the listing's columns, indexes and audience rows to an inbox made before them:
    `create_all` makes missing tables, never missing columns. Safe to run at every start, and
    by several processes at once. Returns the columns it added."""
    if not inspect(engine).has_table(_TASKS.name):
        return []
    defaults: dict[str, Any] = {
        "priority": Priority.NORMAL.value,
        "priority_key": Priority.NORMAL.key,
        "escalated": False,
        "due_key": NO_DUE_TIME,
    }
    columns = {}
    for name, value in defaults.items():
        column = _TASKS.c[name]
        # The default as the dialect stores it (SQLite compares datetimes as text).
        default = literal(value, column.type).compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}
        )
        columns[name] = f"{column.type.compile(dialect=engine.dialect)} NOT NULL DEFAULT {default}"
    missing = add_columns(engine, _TASKS.name, columns)
    for index in _TASKS.indexes:
        index.create(engine, checkfirst=True)
    if missing:
        _fill_audiences(engine)
    return missing


def _fill_audiences(engine: Engine) -> None:
    with Session(engine) as session:
        for task in session.exec(select(HumanTask)):
            task.escalated = task.escalation_level > 0
            if task.due_at:
                task.due_key = task.due_at
            _write_audience(session, task)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # another process filled them at the same moment
