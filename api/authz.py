"""Authorization, enforced here and only here, from the table in workflows/contracts/permissions.py.

Routes describe the object (`Subject`) and call `authorize`; actions that need no object are a
dependency (`allowed(action)`); a listing of processes gets the table's rule as a visibility
query (`readable_processes`).
"""

from collections.abc import Awaitable, Callable
from dataclasses import replace

from sqlalchemy import Engine
from sqlmodel import Session, select

from api.deps import CurrentUser, read
from api.errors import ApiError
from core.inbox import HumanTask
from core.users import User
from workflows.contracts import search_attributes as search
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.permissions import (
    NOTHING,
    PERMISSIONS,
    Action,
    Relation,
    Subject,
    permits,
)


def authorize(
    user: User, action: Action, subject: Subject = NOTHING, *, hidden: ApiError | None = None
) -> None:
    """Returns when `user` may do `action` to `subject`; else raises the rule's refusal. A 404
    refusal is `hidden`: the very error a missing object gets, so nothing leaks."""
    if permits(action, user.name, user.roles, subject):
        return
    rule = PERMISSIONS[action]
    if rule.refusal == 404:
        raise hidden or ApiError(404, "not_found", "no such object")
    raise ApiError(
        rule.refusal,
        "forbidden",
        f"{user.name} may not {rule.does}",
        {"action": action.value, "allowed": rule.who()},
    )


def allowed(action: Action) -> Callable[..., Awaitable[User]]:
    """A dependency: the caller, when the table lets them do `action` (one that needs no object)."""

    async def caller(user: CurrentUser) -> User:
        authorize(user, action)
        return user

    return caller


def type_roles(process_type: str | None) -> frozenset[str]:
    ptype = PROCESS_TYPES.get(process_type or "")
    return frozenset(ptype.roles) if ptype else frozenset()


def process_subject(process_type: str | None, requester: str | None) -> Subject:
    return Subject(type_roles=type_roles(process_type), requester=requester)


async def with_requester_roles(engine: Engine, subject: Subject) -> Subject:
    """The subject with its requester's roles, from the users table."""

    def roles(session: Session) -> list[str]:
        user = session.exec(select(User).where(User.name == subject.requester)).first()
        return list(user.roles) if user else []

    found = await read(engine, roles) if subject.requester else []
    return replace(subject, requester_roles=frozenset(found))


def task_subject(task: HumanTask) -> Subject:
    return Subject(candidate_roles=frozenset(task.candidate_roles), assignee=task.assignee)


def quoted(value: str) -> str:
    """A string literal for a Temporal visibility query."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def readable_processes(user: User) -> str | None:
    """A visibility-query clause matching the processes `user` may read; None: every process."""
    if permits(Action.READ_PROCESS, user.name, user.roles):
        return None  # a role that reads everything (admin)
    relations = PERMISSIONS[Action.READ_PROCESS].relations
    clauses: list[str] = []
    if Relation.REQUESTER in relations:
        clauses.append(f"{search.REQUESTED_BY.name} = {quoted(user.name)}")
    if Relation.TYPE_ROLE in relations:
        types = [
            name
            for name, ptype in PROCESS_TYPES.items()
            if permits(Action.READ_PROCESS, user.name, user.roles, process_subject(name, None))
        ]
        if types:
            clauses.append(f"{search.PROCESS_TYPE.name} IN ({', '.join(map(quoted, types))})")
    unsupported = set(relations) - {Relation.REQUESTER, Relation.TYPE_ROLE}
    assert not unsupported, f"no visibility query for {unsupported}"
    return "(" + " OR ".join(clauses or ["WorkflowId = ''"]) + ")"
