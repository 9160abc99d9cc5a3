"""The inbox listing (GET /v1/tasks) on SQLite and PostgreSQL: every filter, every sort order,
keyset paging, visibility, and the audience rows that keep it fast at any size."""

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from api.app import create_app
from core import inbox as inbox_module
from core.db import create_tables, make_engine, session_scope
from core.inbox import HumanTask, TaskCandidate, TaskSort, write_task
from core.migrations import AFTER_BASELINE
from core.settings import Settings
from core.users import add_user
from tests.helpers import BOB, CAROL, ERIN, serve
from workflows.contracts.priority import Priority
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskForm, TaskRecord, TaskStatus

TYPES = ("order-fulfillment", "invoice-processing")
ROLE_SETS = (
    [Role.SALES_MANAGER],
    [Role.FINANCE_CONTROLLER],
    [Role.AP_CLERK],
    [Role.SALES_MANAGER, Role.FINANCE_CONTROLLER],
)
CREATED = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
NO_DUE = datetime.max.replace(tzinfo=UTC)


@dataclass
class Caller:
    name: str
    key: str
    roles: set[Role]


AS_BOB = Caller("bob", BOB, {Role.SALES_MANAGER})
AS_CAROL = Caller("carol", CAROL, {Role.FINANCE_CONTROLLER})
AS_ERIN = Caller("erin", ERIN, {Role.ADMIN})


@dataclass
class Inbox:
    http: httpx.AsyncClient
    engine: Engine
    gina: Caller  # a sales manager and finance controller at once

    def write(self, *records: TaskRecord) -> None:
        with session_scope(self.engine) as session:
            for record in records:
                assert write_task(session, record)

    def audience(self, task_id: str) -> dict[str, str]:
        """The task's audience rows: each audience and the status it carries."""
        with session_scope(self.engine) as session:
            rows = session.exec(select(TaskCandidate).where(TaskCandidate.task_id == task_id))
            return {row.audience: row.status for row in rows}

    async def get(self, caller: Caller, **params: Any) -> httpx.Response:
        return await get(self.http, caller, **params)

    async def every_page(self, caller: Caller, **params: Any) -> list[str]:
        return await every_page(self.http, caller, **params)


async def get(http: httpx.AsyncClient, caller: Caller, **params: Any) -> httpx.Response:
    return await http.get(
        "/v1/tasks", params=params, headers={"Authorization": f"Bearer {caller.key}"}
    )


async def every_page(http: httpx.AsyncClient, caller: Caller, **params: Any) -> list[str]:
    """The task ids of every page, four at a time, following the cursors to the end."""
    seen: list[str] = []
    params = {"limit": 4, **params}
    while True:
        response = await get(http, caller, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["task_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            return seen
        assert len(page["items"]) == 4
        params["cursor"] = page["next_cursor"]


@pytest.fixture
async def inbox(database_url: str, tmp_path: Path) -> AsyncIterator[Inbox]:
    """The API on this test's database (demo users seeded), and a way to write its inbox."""
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        engine = make_engine(database_url)
        roles = [Role.SALES_MANAGER, Role.FINANCE_CONTROLLER]
        with session_scope(engine) as session:
            key = add_user(session, "gina", roles)
        yield Inbox(http, engine, Caller("gina", key, set(roles)))
        engine.dispose()


def task(prefix: str, i: int, **changes: Any) -> TaskRecord:
    """The i-th task of a varied set: types, roles, assignees, priorities, escalations, due
    times (past, future, none), creation times with ties, and a few closed."""
    closed = i % 8 == 7
    values: dict[str, Any] = {
        "task_id": f"{prefix}-{i:02d}:task:approval",
        "process_id": f"{prefix}-{i:02d}",
        "process_type": TYPES[i % 2],
        "name": "approval",
        "kind": "approval",
        "title": f"Task {i}",
        "form": TaskForm(),
        "candidate_roles": ROLE_SETS[i % 4],
        "assignee": {1: "bob", 4: "gina"}.get(i % 6),
        "requester": "alice",
        "priority": Priority.URGENT if i % 3 == 0 else Priority.NORMAL,
        "status": TaskStatus.COMPLETED if closed else TaskStatus.OPEN,
        "outcome": "approve" if closed else None,
        "escalation_level": 1 if i % 5 == 0 else 0,
        "due_at": None if i % 4 == 2 else datetime.now(UTC) + timedelta(hours=(i % 6) - 2.5),
        "created_at": CREATED + (i * 7) % 12 * MINUTE,  # ties, not in id order
        "closed_at": CREATED + timedelta(days=1) if closed else None,
        "seq": 1,
    }
    return TaskRecord(**(values | changes))


def varied(prefix: str, count: int = 26) -> list[TaskRecord]:
    return [task(prefix, i) for i in range(count)]


def visible(record: TaskRecord, caller: Caller) -> bool:
    return (
        Role.ADMIN in caller.roles
        or record.assignee == caller.name
        or bool(set(record.candidate_roles) & caller.roles)
    )


SORTS: dict[str, Callable[[TaskRecord], tuple[Any, ...]]] = {
    "created": lambda r: (r.created_at, r.task_id),
    "due": lambda r: (r.due_at or NO_DUE, r.created_at, r.task_id),
    "priority": lambda r: (r.priority.key, r.created_at, r.task_id),
}


def _open(r: TaskRecord, _: Caller | None = None) -> bool:
    return r.status is TaskStatus.OPEN


def expected(
    records: list[TaskRecord],
    caller: Caller,
    sort: str = "created",
    keeps: Callable[[TaskRecord, Caller], bool] = _open,
) -> list[str]:
    """What `caller` should be shown, in order: what they may see and the filter keeps."""
    chosen = [r for r in records if visible(r, caller) and keeps(r, caller)]
    return [r.task_id for r in sorted(chosen, key=SORTS[sort])]


@pytest.mark.parametrize("sort", [sort.value for sort in TaskSort])
async def test_every_sort_pages_through_everything_once(inbox: Inbox, sort: str) -> None:
    records = varied(f"sort-{uuid.uuid4().hex[:6]}")
    inbox.write(*records)
    for caller in (AS_BOB, AS_CAROL, inbox.gina, AS_ERIN):
        listed = await inbox.every_page(caller, sort=sort)
        assert listed == expected(records, caller, sort), f"{caller.name}, by {sort}"
        assert len(set(listed)) == len(listed)


def _overdue(r: TaskRecord) -> bool:
    return r.due_at is not None and r.due_at < datetime.now(UTC)


# Each filter's query parameters and which tasks it keeps (besides what the caller may see).
FILTERS: dict[str, tuple[dict[str, Any], Callable[[TaskRecord, Caller], bool]]] = {
    "process_type": (
        {"process_type": TYPES[1]},
        lambda r, _: _open(r) and r.process_type == TYPES[1],
    ),
    "escalated": ({"escalated": True}, lambda r, _: _open(r) and r.escalation_level > 0),
    "not escalated": ({"escalated": False}, lambda r, _: _open(r) and r.escalation_level == 0),
    "overdue": ({"overdue": True}, lambda r, _: _open(r) and _overdue(r)),
    "not overdue": ({"overdue": False}, lambda r, _: _open(r) and not _overdue(r)),
    "assigned to me": (
        {"assigned_to_me": True},
        lambda r, caller: _open(r) and r.assignee == caller.name,
    ),
    "completed": ({"status": "completed"}, lambda r, _: r.status is TaskStatus.COMPLETED),
    "combined": (
        {"process_type": TYPES[0], "escalated": False, "overdue": True, "sort": "due"},
        lambda r, _: (
            _open(r) and r.process_type == TYPES[0] and not r.escalation_level and _overdue(r)
        ),
    ),
}


@pytest.mark.parametrize("name", list(FILTERS))
async def test_every_filter(inbox: Inbox, name: str) -> None:
    records = varied(f"filter-{uuid.uuid4().hex[:6]}")
    inbox.write(*records)
    params, keeps = FILTERS[name]
    sort = params.get("sort", "created")
    found: list[str] = []
    for caller in (AS_BOB, inbox.gina, AS_ERIN):
        want = expected(records, caller, sort, keeps)
        assert await inbox.every_page(caller, **params) == want, caller.name
        found += want
    assert found, "the data set leaves something to find"


@pytest.mark.parametrize("overdue", [True, False])
@pytest.mark.parametrize("few", [1, inbox_module.FEW], ids=["many match", "few match"])
async def test_overdue_or_not_in_every_order(
    inbox: Inbox, few: int, overdue: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past FEW, scans skip what the due condition drops; up to it, they sort what it keeps.
    monkeypatch.setattr(inbox_module, "FEW", few)
    records = varied(f"due-{uuid.uuid4().hex[:6]}")
    inbox.write(*records)
    for sort in SORTS:
        for caller in (AS_BOB, inbox.gina, AS_ERIN):
            want = expected(records, caller, sort, lambda r, _: _open(r) and _overdue(r) == overdue)
            listed = await inbox.every_page(caller, overdue=overdue, sort=sort)
            assert listed == want, (caller.name, sort)


async def test_a_process_id_lists_only_its_visible_tasks(inbox: Inbox) -> None:
    prefix = f"process-{uuid.uuid4().hex[:6]}"
    managers, controllers = task(prefix, 0), task(prefix, 1, assignee=None)
    inbox.write(managers, controllers)
    for record in (managers, controllers):
        for caller in (AS_BOB, AS_CAROL, AS_ERIN):
            listed = await inbox.every_page(caller, process_id=record.process_id)
            assert listed == ([record.task_id] if visible(record, caller) else []), caller.name


async def test_roles_assignee_and_admin_decide_who_sees_a_task(inbox: Inbox) -> None:
    prefix = f"seen-{uuid.uuid4().hex[:6]}"
    clerks, claimed, both = (
        task(prefix, i, candidate_roles=roles, assignee=assignee, created_at=CREATED + i * MINUTE)
        for i, (roles, assignee) in enumerate(
            [
                ([Role.AP_CLERK], None),
                ([Role.AP_CLERK], "bob"),
                ([Role.SALES_MANAGER, Role.FINANCE_CONTROLLER], None),
            ]
        )
    )
    inbox.write(clerks, claimed, both)
    assert await inbox.every_page(AS_BOB) == [claimed.task_id, both.task_id]
    assert await inbox.every_page(AS_CAROL) == [both.task_id]
    # Seen through both of her roles, listed once.
    assert await inbox.every_page(inbox.gina) == [both.task_id]
    assert await inbox.every_page(AS_ERIN) == [clerks.task_id, claimed.task_id, both.task_id]
    assert await inbox.every_page(AS_ERIN, assigned_to_me=True) == []


async def test_an_escalation_moves_the_task_and_closing_takes_it_out_of_the_open_inbox(
    inbox: Inbox,
) -> None:
    first = task(f"moves-{uuid.uuid4().hex[:6]}", 0, escalation_level=0, assignee=None)
    first = first.model_copy(update={"candidate_roles": [Role.SALES_MANAGER]})
    inbox.write(first)
    assert inbox.audience(first.task_id) == {"sales_manager": "open"}
    assert await inbox.every_page(AS_BOB) == [first.task_id]

    escalated = first.model_copy(
        update={"candidate_roles": [Role.FINANCE_CONTROLLER], "escalation_level": 1, "seq": 2}
    )
    inbox.write(escalated)
    assert inbox.audience(first.task_id) == {"finance_controller": "open"}
    assert await inbox.every_page(AS_BOB) == []
    assert await inbox.every_page(AS_CAROL, escalated=True) == [first.task_id]

    claimed = escalated.model_copy(update={"assignee": "carol", "seq": 3})
    inbox.write(claimed)
    assert inbox.audience(first.task_id) == {"finance_controller": "open", "user:carol": "open"}
    assert await inbox.every_page(AS_CAROL, assigned_to_me=True) == [first.task_id]

    closed = claimed.model_copy(
        update={"status": TaskStatus.COMPLETED, "outcome": "approve", "seq": 4}
    )
    inbox.write(closed)
    # Its rows stay, marked closed: out of every open inbox, still found among the completed.
    assert inbox.audience(first.task_id) == {
        "finance_controller": "completed",
        "user:carol": "completed",
    }
    assert await inbox.every_page(AS_CAROL) == []
    assert await inbox.every_page(AS_ERIN) == []
    assert await inbox.every_page(AS_CAROL, status="completed") == [first.task_id]


async def test_a_task_shows_its_priority(inbox: Inbox) -> None:
    urgent = task(f"urgent-{uuid.uuid4().hex[:6]}", 0, priority=Priority.URGENT)
    inbox.write(urgent)
    listed = (await inbox.get(AS_ERIN)).json()["items"]
    assert [(item["task_id"], item["priority"]) for item in listed] == [(urgent.task_id, "urgent")]


def _encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        ("not a cursor!", "created"),
        (_encoded({"sort": "created"}), "created"),
        (_encoded(["created", "yesterday", "x:task:approval"]), "created"),
        (_encoded(["created", "2025-03-01T09:00:00"]), "created"),
        (_encoded(["created", "2025-03-01T09:00:00", "x:task:approval"]), "created"),  # no zone
        (_encoded(["created", "0001-01-01T00:00:00+14:00", "x:task:approval"]), "created"),
        (_encoded(["created", "2025-03-01T09:00:00Z", "x\u0000"]), "created"),
        (_encoded(["priority", 10**30, "2025-03-01T09:00:00Z", "x:task:approval"]), "priority"),
        (_encoded(["created", "2025-03-01T09:00:00", "x:task:approval"]), "due"),
    ],
)
async def test_a_bad_cursor_is_422_naming_the_field(inbox: Inbox, cursor: str, sort: str) -> None:
    response = await inbox.get(AS_BOB, cursor=cursor, sort=sort)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [detail["field"] for detail in error["details"]] == ["query.cursor"]


def as_before_the_listing(engine: Engine) -> None:
    """Turns the inbox into an earlier version's: no audience rows, no listing columns (and,
    as then, no migrations and none of the tables they added later)."""
    with engine.begin() as connection:
        for table in ("alembic_version", *AFTER_BASELINE):
            connection.execute(text(f"DROP TABLE {table}"))
        connection.execute(text("DROP TABLE human_task_candidates"))
        for index in HumanTask.__table__.indexes:  # type: ignore[attr-defined]
            connection.execute(text(f"DROP INDEX {index.name}"))
        for column in ("priority", "escalated", "due_key", "priority_key"):
            connection.execute(text(f"ALTER TABLE human_tasks DROP COLUMN {column}"))


async def test_an_earlier_inbox_gets_the_listing_at_start(
    database_url: str, tmp_path: Path
) -> None:
    # An earlier version knew no priority: its tasks come back normal.
    records = [
        record.model_copy(update={"priority": Priority.NORMAL})
        for record in varied(f"upgrade-{uuid.uuid4().hex[:6]}", 12)
    ]
    engine = make_engine(database_url)
    create_tables(engine)
    with session_scope(engine) as session:
        for record in records:
            write_task(session, record)
    as_before_the_listing(engine)
    create_tables(engine)  # what every part of Baton does at start
    create_tables(engine)  # and again: nothing left to add
    engine.dispose()
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database_url)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        for caller in (AS_BOB, AS_ERIN):
            for sort in SORTS:
                listed = await every_page(http, caller, sort=sort)
                assert listed == expected(records, caller, sort), (caller.name, sort)
            escalated = await every_page(http, caller, escalated=True)
            keeps = FILTERS["escalated"][1]
            assert escalated == expected(records, caller, keeps=keeps), caller.name
