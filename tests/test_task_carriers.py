"""Both ways an action reaches a task, the `act_and_answer` update (Baton's API) and the `act`
signal (the Temporal UI, the CLI, scripts), go through the same checks: every test runs
through each, straight against the task's workflow."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.temporal import is_closed_or_missing
from core.db import make_engine, session_scope
from core.signing import signer
from core.users import DEMO_USERS, add_user
from tests.approvals import approval, ledger, outbox, start
from tests.helpers import ERIN, Stack, wait_for, wait_for_task
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ACT_SIGNAL,
    ACT_UPDATE,
    VERDICT_QUERY,
    ActionKind,
    ApprovalRule,
    EscalationRung,
    TaskAction,
    Verdict,
    VerdictLookup,
)

Carrier = Callable[[Stack, str, TaskAction], Awaitable[Verdict]]
CLOSED = Verdict(action_id="", applied=False, status=409, reason="the task's run has ended")


async def by_update(stack: Stack, task_id: str, action: TaskAction) -> Verdict:
    handle = stack.client.get_workflow_handle(task_id)
    try:
        verdict: Verdict = await handle.execute_update(
            ACT_UPDATE, action, id=action.action_id, result_type=Verdict
        )
    except RPCError as exc:
        if not is_closed_or_missing(exc):
            raise
        return CLOSED  # as the API answers it
    return verdict


async def by_signal(stack: Stack, task_id: str, action: TaskAction) -> Verdict:
    handle = stack.client.get_workflow_handle(task_id)
    try:
        await handle.signal(ACT_SIGNAL, action)
    except RPCError as exc:
        if not is_closed_or_missing(exc):
            raise
        return CLOSED

    async def answered() -> Verdict | None:
        lookup: VerdictLookup = await handle.query(
            VERDICT_QUERY, action.action_id, result_type=VerdictLookup
        )
        return lookup.verdict

    return await wait_for(answered, f"a verdict on {action.action_id}")


@pytest.fixture(params=[by_update, by_signal], ids=["update", "signal"])
def carrier(request: pytest.FixtureRequest) -> Carrier:
    carrier: Carrier = request.param
    return carrier


DEMO_ROLES = {name: [role] for name, role, _ in DEMO_USERS}


def signed(
    stack: Stack, task_id: str, user: str, outcome: str = "approve", **extra: Any
) -> TaskAction:
    """As Baton's API signs it: with the roles it saw (a demo user's, unless `roles=` says
    otherwise; None, as the CLI signs, leaves the workflow to look them up)."""
    action = TaskAction(
        action_id=extra.pop("action_id", str(uuid.uuid4())),
        kind=ActionKind.DECIDE,
        user=user,
        outcome=outcome,
        roles=extra.pop("roles", DEMO_ROLES.get(user)),
        **extra,
    )
    return signer(stack.settings).sign(task_id, action)


def refused(verdict: Verdict, status: int, reason: str) -> bool:
    return (verdict.applied, verdict.status) == (False, status) and reason in verdict.reason


async def test_escalation_and_reminders_then_the_new_role_decides(
    stack: Stack, carrier: Carrier
) -> None:
    spec = approval(
        remind_every=timedelta(seconds=1),
        escalation=[EscalationRung(after=timedelta(seconds=2), roles=[Role.FINANCE_CONTROLLER])],
    )
    handle, task_id = await start(stack, spec)

    async def escalated() -> bool:
        return bool((await wait_for_task(stack, task_id, ERIN))["escalation_level"] == 1)

    await wait_for(escalated, f"task {task_id} to escalate")
    assert refused(await carrier(stack, task_id, signed(stack, task_id, "bob")), 403, "lacks")
    assert (await carrier(stack, task_id, signed(stack, task_id, "carol"))).applied
    result = await handle.result()
    assert (result.decided_by, result.escalation_level) == (["carol"], 1)
    assert any("Reminder" in message for message in await outbox(stack, task_id))
    assert [(r.actor, r.applied) for r in ledger(stack, handle.id)] == [
        ("bob", False),
        ("carol", True),
    ]


async def test_an_expired_task_takes_no_decision(stack: Stack, carrier: Carrier) -> None:
    spec = approval(expire_after=timedelta(seconds=1), expiry_outcome="reject")
    handle, task_id = await start(stack, spec)
    result = await handle.result()
    assert (result.outcome, result.expired) == ("reject", True)
    late = await carrier(stack, task_id, signed(stack, task_id, "bob"))
    assert refused(late, 409, "")
    assert [(r.actor_kind, r.outcome) for r in ledger(stack, handle.id)] == [("system", "reject")]


async def test_k_of_n_needs_k_different_people(stack: Stack, carrier: Carrier) -> None:
    spec = approval(
        candidate_roles=[Role.SALES_MANAGER, Role.FINANCE_CONTROLLER],
        approval=ApprovalRule(kind="k_of_n", k=2),
    )
    handle, task_id = await start(stack, spec)
    assert (await carrier(stack, task_id, signed(stack, task_id, "bob"))).applied
    twice = await carrier(stack, task_id, signed(stack, task_id, "bob"))
    assert refused(twice, 403, "already decided")
    assert (await carrier(stack, task_id, signed(stack, task_id, "carol"))).applied
    result = await handle.result()
    assert (result.outcome, result.decided_by) == ("approve", ["bob", "carol"])


async def test_sequential_levels_in_order(stack: Stack, carrier: Carrier) -> None:
    spec = approval(
        candidate_roles=[],
        approval=ApprovalRule(
            kind="sequential", levels=[[Role.SALES_MANAGER], [Role.FINANCE_CONTROLLER]]
        ),
    )
    handle, task_id = await start(stack, spec)
    early = await carrier(stack, task_id, signed(stack, task_id, "carol"))
    assert refused(early, 403, "lacks a role")  # not her level yet
    assert (await carrier(stack, task_id, signed(stack, task_id, "bob"))).applied
    assert (await carrier(stack, task_id, signed(stack, task_id, "carol"))).applied
    result = await handle.result()
    assert [(d.user, d.level) for d in result.decisions] == [("bob", 0), ("carol", 1)]


async def test_four_eyes(stack: Stack, carrier: Carrier) -> None:
    handle, task_id = await start(stack, approval(requester="bob"))
    own = await carrier(stack, task_id, signed(stack, task_id, "bob"))
    assert refused(own, 403, "four-eyes")
    assert [(r.actor, r.applied) for r in ledger(stack, handle.id)] == [("bob", False)]


async def test_two_decisions_at_once_one_applies(stack: Stack, carrier: Carrier) -> None:
    engine = make_engine(stack.settings.resolved_database_url)
    with session_scope(engine) as session:
        other = f"ben-{uuid.uuid4().hex[:6]}"
        add_user(session, other, [Role.SALES_MANAGER])
    engine.dispose()
    handle, task_id = await start(stack, approval())
    verdicts = await asyncio.gather(
        carrier(stack, task_id, signed(stack, task_id, "bob")),
        carrier(stack, task_id, signed(stack, task_id, other, "reject")),
    )
    assert sorted(v.applied for v in verdicts) == [False, True]
    loser = next(v for v in verdicts if not v.applied)
    assert loser.status == 409
    assert len((await handle.result()).decisions) == 1
    assert [r.applied for r in ledger(stack, handle.id)] in ([True], [True, False])


async def test_a_repeated_decision_applies_once(stack: Stack, carrier: Carrier) -> None:
    handle, task_id = await start(
        stack, approval(approval=ApprovalRule(kind="k_of_n", k=2), candidate_roles=[Role.ADMIN])
    )
    action = signed(stack, task_id, "erin", action_id="click-1")
    verdicts = await asyncio.gather(*(carrier(stack, task_id, action) for _ in range(3)))
    again = await carrier(stack, task_id, action)
    assert all(v.applied for v in [*verdicts, again])
    assert [(r.actor, r.applied) for r in ledger(stack, handle.id)] == [("erin", True)]
    task = await wait_for_task(stack, task_id, ERIN)
    assert task["status"] == "open"  # one approval of the two it needs


@pytest.mark.parametrize("who", ["forged", "without-the-role"])
async def test_a_decision_not_theirs_is_refused_and_recorded(
    stack: Stack, carrier: Carrier, who: str
) -> None:
    handle, task_id = await start(stack, approval())
    if who == "forged":  # bob's name and role, not signed by Baton
        action = TaskAction(
            action_id="f1",
            kind=ActionKind.DECIDE,
            user="bob",
            outcome="approve",
            roles=[Role.SALES_MANAGER],
        )
        verdict = await carrier(stack, task_id, action)
        assert refused(verdict, 403, "not signed")
    else:  # signed, but a sales rep may not approve
        verdict = await carrier(stack, task_id, signed(stack, task_id, "alice"))
        assert refused(verdict, 403, "lacks a role")
    rows = ledger(stack, handle.id)
    assert [(r.applied, r.reason) for r in rows] == [(False, verdict.reason)]
    assert (await carrier(stack, task_id, signed(stack, task_id, "bob"))).applied


async def test_roles_that_do_not_hold_are_decided_on_the_database_word(
    stack: Stack, carrier: Carrier
) -> None:
    """The roles an action claims are checked against the database as it is written: roles
    changed since the API signed (or claimed wrongly) never decide, in either direction."""
    handle, task_id = await start(stack, approval())
    promoted = signed(stack, task_id, "alice", roles=[Role.SALES_MANAGER])
    assert refused(await carrier(stack, task_id, promoted), 403, "lacks a role")
    demoted = signed(stack, task_id, "bob", roles=[])
    assert (await carrier(stack, task_id, demoted)).applied
    assert [(r.actor, r.applied) for r in ledger(stack, handle.id)] == [
        ("alice", False),
        ("bob", True),
    ]
    assert (await handle.result()).decided_by == ["bob"]


async def test_an_action_signed_without_roles_is_checked_on_the_database_word(
    stack: Stack, carrier: Carrier
) -> None:
    handle, task_id = await start(stack, approval())
    rep = signed(stack, task_id, "alice", roles=None)
    assert refused(await carrier(stack, task_id, rep), 403, "lacks a role")
    assert (await carrier(stack, task_id, signed(stack, task_id, "bob", roles=None))).applied
    assert (await handle.result()).decided_by == ["bob"]


async def test_the_update_refuses_a_malformed_decision_outside_the_history(stack: Stack) -> None:
    handle, task_id = await start(stack, approval())
    task = stack.client.get_workflow_handle(task_id)
    with pytest.raises(WorkflowUpdateFailedError) as refusal:
        await by_update(stack, task_id, signed(stack, task_id, "bob", outcome="maybe"))
    assert "outcome" in str(refusal.value.cause)
    history = await task.fetch_history()
    assert not [
        event
        for event in history.events
        if event.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert ledger(stack, handle.id) == []
    assert (await by_update(stack, task_id, signed(stack, task_id, "bob"))).applied
