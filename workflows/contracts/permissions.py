"""Who may do what: Baton's authorization table, as data.

The API enforces it in one place (`api/authz.py`), README prints it (`as_markdown()`), and the
authorization test derives every expected answer from it. A rule grants an action to holders of
some roles, and to whoever stands in some relation to the object (its requester, a holder of
one of its process type's roles, ...). A refused caller gets the rule's `refusal` status: 404
where even the object's existence must not leak.
"""

from dataclasses import dataclass
from enum import StrEnum

from workflows.contracts.roles import Role


class Action(StrEnum):
    READ_CATALOGUE = "catalogue.read"
    START_PROCESS = "process.start"
    READ_PROCESS = "process.read"  # also: which processes a listing shows
    CANCEL_PROCESS = "process.cancel"
    READ_TASK = "task.read"
    ACT_ON_TASK = "task.act"  # claim, release, reassign, decide
    WORK_ROBOT_JOBS = "robot_jobs.work"
    READ_INSIGHT = "insight.read"
    MANAGE_USERS = "users.manage"
    MANAGE_SCHEDULES = "schedules.manage"
    MANAGE_EVENTS = "events.manage"
    SEND_EVENT = "events.send"


class Relation(StrEnum):
    """How a person may stand to the object of an action."""

    ANYONE = "anyone signed in"
    TYPE_ROLE = "a holder of one of the process type's roles"
    REQUESTER = "its requester"
    REQUESTER_ROLE = "a holder of one of its requester's roles"
    TASK_CANDIDATE = "a holder of one of the task's candidate roles, or its assignee"


@dataclass(frozen=True)
class Subject:
    """What the table needs to know of the object acted on (empty where it does not apply)."""

    type_roles: frozenset[str] = frozenset()
    requester: str | None = None
    requester_roles: frozenset[str] = frozenset()
    candidate_roles: frozenset[str] = frozenset()
    assignee: str | None = None


@dataclass(frozen=True)
class Rule:
    does: str  # what the action is, for people
    roles: tuple[Role, ...] = ()  # these roles always may
    relations: tuple[Relation, ...] = ()  # and so may whoever stands so to the object
    refusal: int = 403  # what a refused caller gets
    note: str = ""  # what else decides, beyond this table
    endpoints: tuple[str, ...] = ()  # "METHOD /path" as the API routes it; * for those to come

    def who(self) -> str:
        return ", ".join([*self.relations, *self.roles])


_ADMIN = (Role.ADMIN,)

PERMISSIONS: dict[Action, Rule] = {
    Action.READ_CATALOGUE: Rule(
        "read the catalogue and one's own user",
        relations=(Relation.ANYONE,),
        endpoints=("GET /v1/process-types", "GET /v1/me"),
    ),
    Action.START_PROCESS: Rule(
        "start a process of a type",
        _ADMIN,
        (Relation.TYPE_ROLE,),
        endpoints=("POST /v1/processes/{process_type}",),
    ),
    Action.READ_PROCESS: Rule(
        "read a process (a listing shows only these)",
        _ADMIN,
        (Relation.REQUESTER, Relation.TYPE_ROLE),
        refusal=404,
        endpoints=("GET /v1/processes/{process_id}", "GET /v1/processes"),
    ),
    Action.CANCEL_PROCESS: Rule(
        "cancel a process",
        _ADMIN,
        (Relation.REQUESTER_ROLE,),
        note="who may not read it gets 404",
        endpoints=("POST /v1/processes/{process_id}/cancel",),
    ),
    Action.READ_TASK: Rule(
        "read a task (the inbox shows only these)",
        _ADMIN,
        (Relation.TASK_CANDIDATE,),
        refusal=404,
        endpoints=("GET /v1/tasks", "GET /v1/tasks/{task_id}"),
    ),
    Action.ACT_ON_TASK: Rule(
        "claim, release, reassign or decide a task",
        _ADMIN,
        (Relation.TASK_CANDIDATE,),
        refusal=404,
        note="then the task's own rules apply (four-eyes, claims, levels): 403",
        endpoints=(
            "POST /v1/tasks/{task_id}/claim",
            "POST /v1/tasks/{task_id}/release",
            "POST /v1/tasks/{task_id}/reassign",
            "POST /v1/tasks/{task_id}/decision",
            "POST /v1/decisions",  # per task: one it may not act on is a 404 item
        ),
    ),
    Action.WORK_ROBOT_JOBS: Rule(
        "list, take and finish robot jobs",
        (Role.ROBOT, Role.ADMIN),
        endpoints=(
            "GET /v1/robot-jobs",
            "GET /v1/robot-jobs/{job_id}",
            "POST /v1/robot-jobs/{job_id}/take",
            "POST /v1/robot-jobs/{job_id}/heartbeat",
            "POST /v1/robot-jobs/{job_id}/complete",
            "POST /v1/robot-jobs/{job_id}/fail",
        ),
    ),
    Action.READ_INSIGHT: Rule(
        "read insight (KPIs, map, exports)",
        (Role.ANALYST, Role.ADMIN),
        endpoints=(
            "GET /v1/insight/kpis",
            "GET /v1/insight/map",
            "GET /v1/insight/export",
            "POST /v1/insight/what-if",
        ),
    ),
    Action.MANAGE_USERS: Rule("manage users and keys", _ADMIN, endpoints=("* /v1/users*",)),
    Action.MANAGE_SCHEDULES: Rule(
        "manage schedules",
        _ADMIN,
        endpoints=(
            "GET /v1/schedules",
            "POST /v1/schedules",
            "GET /v1/schedules/{schedule_id}",
            "DELETE /v1/schedules/{schedule_id}",
            "POST /v1/schedules/{schedule_id}/trigger",
        ),
    ),
    Action.MANAGE_EVENTS: Rule("manage business events", _ADMIN, endpoints=("* /v1/events*",)),
    Action.SEND_EVENT: Rule(
        "send a business event",
        refusal=401,
        note="no API key: a source listed in BATON_EVENT_SECRETS, signing with its secret",
        endpoints=("POST /v1/events/{source}",),
    ),
}

NOTHING = Subject()


def _stands(relation: Relation, name: str, roles: set[str], subject: Subject) -> bool:
    match relation:
        case Relation.ANYONE:
            return True
        case Relation.TYPE_ROLE:
            return bool(roles & subject.type_roles)
        case Relation.REQUESTER:
            return subject.requester is not None and subject.requester == name
        case Relation.REQUESTER_ROLE:
            return bool(roles & subject.requester_roles)
        case Relation.TASK_CANDIDATE:
            return subject.assignee == name or bool(roles & subject.candidate_roles)


def permits(action: Action, name: str, roles: list[str], subject: Subject = NOTHING) -> bool:
    """Whether the user `name` holding `roles` may do `action` to `subject`."""
    rule, held = PERMISSIONS[action], set(roles)
    return bool(held.intersection(rule.roles)) or any(
        _stands(relation, name, held, subject) for relation in rule.relations
    )


def as_markdown() -> str:
    """The table as README prints it."""
    lines = ["| action | who may | refused | endpoints |", "|---|---|---|---|"]
    for action, rule in PERMISSIONS.items():
        who = rule.who() + (f"; {rule.note}" if rule.note else "")
        endpoints = ", ".join(f"`{e}`" for e in rule.endpoints)
        lines.append(f"| {rule.does} (`{action}`) | {who} | {rule.refusal} | {endpoints} |")
    return "\n".join(lines)
