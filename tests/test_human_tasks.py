"""Human tasks against a real Temporal server, the real inbox API and the sandbox's outbox."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select

from core.db import make_engine, session_scope
from core.keys import Keyring
from core.ledger import LedgerRow
from core.signing import Signer, signer
from core.users import add_user
from tests.approvals import approval, ledger, outbox, start
from tests.helpers import (
    ALICE,
    BOB,
    CAROL,
    ERIN,
    Stack,
    decide,
    post_decision,
    wait_for,
    wait_for_task,
)
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ACT_SIGNAL,
    VERDICT_QUERY,
    ActionKind,
    ApprovalRule,
    EscalationRung,
    TaskAction,
    VerdictLookup,
)

Forge = Callable[[Signer, str, TaskAction], TaskAction]
STRANGER = Signer(Keyring("test-1", {"test-1": b"x" * 32}))  # the id Baton uses, another key


async def test_one_approval_through_the_api(stack: Stack) -> None:
    handle, task_id = await start(stack, approval())
    inbox = (await stack.api.get("/v1/tasks", headers=stack.as_user(BOB))).json()
    assert task_id in [task["task_id"] for task in inbox["items"]]

    response = await post_decision(stack, task_id, BOB, comment="fine", data={"note": "ok"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert response.json()["outcome"] == "approve"
    result = await handle.result()
    assert result.outcome == "approve"
    assert result.decided_by == ["bob"]
    assert result.comment == "fine"

    again = await post_decision(stack, task_id, BOB)
    assert again.status_code == 409
    rows = ledger(stack, handle.id)
    assert [(r.actor_kind, r.actor, r.outcome, r.applied) for r in rows] == [
        ("human", "bob", "approve", True)
    ]


async def test_inbox_shows_only_what_roles_allow(stack: Stack) -> None:
    _, task_id = await start(stack, approval())
    assert (
        await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(ALICE))
    ).status_code == 404
    mine = (await stack.api.get("/v1/tasks", headers=stack.as_user(ALICE))).json()["items"]
    assert task_id not in [task["task_id"] for task in mine]
    denied = await post_decision(stack, task_id, ALICE)
    assert denied.status_code == 404  # no leak that the task exists
    detail = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(BOB))).json()
    assert detail["outcomes"] == ["approve", "reject"]
    assert detail["history"][0]["event"] == "created"
    assert (await stack.api.get("/v1/tasks")).status_code == 401


async def test_four_eyes_and_unknown_outcome(stack: Stack) -> None:
    handle, task_id = await start(stack, approval(requester="bob"))
    four_eyes = await post_decision(stack, task_id, BOB)
    assert four_eyes.status_code == 403
    assert "four-eyes" in four_eyes.json()["error"]["message"]
    unknown = await post_decision(stack, task_id, ERIN, outcome="maybe")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "body.outcome"
    rows = ledger(stack, handle.id)
    assert [(r.actor, r.applied, r.reason) for r in rows] == [
        ("bob", False, "four-eyes: the requester may not decide their own request")
    ]  # the 422 never reached the workflow


async def test_two_people_deciding_at_once_one_wins(stack: Stack) -> None:
    engine = make_engine(stack.settings.resolved_database_url)
    with session_scope(engine) as session:
        key = add_user(session, "bea", [Role.SALES_MANAGER])
    engine.dispose()
    handle, task_id = await start(stack, approval())
    answers = await asyncio.gather(
        post_decision(stack, task_id, BOB, outcome="approve"),
        post_decision(stack, task_id, key, outcome="reject"),
    )
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    result = await handle.result()
    winner = next(answer for answer in answers if answer.status_code == 200)
    assert result.outcome == winner.json()["outcome"]
    # The loser is refused by the workflow (and recorded) if it arrived before the task's run
    # ended, else by the API: either way nothing but the winner is applied.
    rows = ledger(stack, handle.id)
    assert [row.applied for row in rows] in ([True], [True, False])
    assert all(row.reason.startswith("the task is closed") for row in rows[1:])


async def signal(stack: Stack, task_id: str, action: TaskAction) -> VerdictLookup:
    handle = stack.client.get_workflow_handle(task_id)
    await handle.signal(ACT_SIGNAL, action)

    async def answered() -> VerdictLookup | None:
        lookup: VerdictLookup = await handle.query(
            VERDICT_QUERY, action.action_id, result_type=VerdictLookup
        )
        return lookup if lookup.verdict else None

    return await wait_for(answered, "the workflow to answer the signal")


async def test_signals_straight_to_the_workflow_are_checked_and_deduplicated(
    stack: Stack,
) -> None:
    handle, task_id = await start(stack, approval())
    signing = signer(stack.settings)
    # Signed, but alice may not decide: refused on her roles, and recorded.
    alice = TaskAction(action_id="ui-1", kind=ActionKind.DECIDE, user="alice", outcome="approve")
    lookup = await signal(stack, task_id, signing.sign(task_id, alice))
    assert lookup.verdict is not None
    assert (lookup.verdict.applied, lookup.verdict.status) == (False, 403)

    # The same signal twice (a retried CLI call, say) is applied once.
    real = signing.sign(
        task_id,
        TaskAction(action_id="cli-7", kind=ActionKind.DECIDE, user="bob", outcome="approve"),
    )
    await stack.client.get_workflow_handle(task_id).signal(ACT_SIGNAL, real)
    await signal(stack, task_id, real)
    result = await handle.result()
    assert result.decided_by == ["bob"]
    rows = ledger(stack, handle.id)
    assert [(r.decision_id, r.applied) for r in rows] == [
        (f"{task_id}:ui-1", False),  # scoped by the task: another task's ids never collide
        (f"{task_id}:cli-7", True),
    ]


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda signer, task_id, action: action, id="unsigned"),
        pytest.param(
            lambda signer, task_id, action: Signer(Keyring("dev", {"dev": b"x" * 32})).sign(
                task_id, action
            ),
            id="another-key",
        ),
        pytest.param(
            lambda signer, task_id, action: signer.sign(task_id, action).model_copy(
                update={"outcome": "reject"}
            ),
            id="tampered",
        ),
    ],
)
async def test_a_forged_signal_cannot_act_as_an_approver(stack: Stack, signature: Forge) -> None:
    """`temporal workflow signal --name act --input '{..."user":"bob","outcome":"approve"}'`."""
    handle, task_id = await start(stack, approval())
    bob = TaskAction(action_id="f1", kind=ActionKind.DECIDE, user="bob", outcome="approve")
    lookup = await signal(stack, task_id, signature(signer(stack.settings), task_id, bob))
    assert lookup.verdict is not None
    assert (lookup.verdict.applied, lookup.verdict.status) == (False, 403)
    assert "not signed" in lookup.verdict.reason
    rows = ledger(stack, handle.id)
    assert [(r.actor, r.applied, r.reason) for r in rows] == [("bob", False, lookup.verdict.reason)]
    # The task is still open for bob's real decision through the API.
    await decide(stack, task_id, BOB, "approve")
    assert (await handle.result()).decided_by == ["bob"]


async def test_k_of_n_needs_k_different_people(stack: Stack) -> None:
    spec = approval(
        candidate_roles=[Role.SALES_MANAGER, Role.FINANCE_CONTROLLER],
        approval=ApprovalRule(kind="k_of_n", k=2),
    )
    handle, task_id = await start(stack, spec)
    first = await post_decision(stack, task_id, BOB)
    assert first.status_code == 200
    assert first.json()["status"] == "open"
    assert (await post_decision(stack, task_id, BOB)).status_code == 403  # the same person twice
    second = await post_decision(stack, task_id, CAROL)
    assert second.json()["status"] == "completed"
    result = await handle.result()
    assert (result.outcome, result.decided_by) == ("approve", ["bob", "carol"])
    assert len([row for row in ledger(stack, handle.id) if row.applied]) == 2


async def test_sequential_levels_in_order_never_the_same_person(stack: Stack) -> None:
    spec = approval(
        candidate_roles=[],
        approval=ApprovalRule(
            kind="sequential", levels=[[Role.SALES_MANAGER], [Role.FINANCE_CONTROLLER]]
        ),
    )
    handle, task_id = await start(stack, spec)
    assert (await post_decision(stack, task_id, CAROL)).status_code == 404  # not her level yet
    level_one = await post_decision(stack, task_id, BOB)
    assert level_one.json()["approval_level"] == 1
    assert level_one.json()["candidate_roles"] == ["finance_controller"]
    assert (await post_decision(stack, task_id, BOB)).status_code == 404  # no longer his to see
    assert (await post_decision(stack, task_id, CAROL)).status_code == 200
    result = await handle.result()
    assert [(d.user, d.level) for d in result.decisions] == [("bob", 0), ("carol", 1)]


async def test_claim_reassign_and_release(stack: Stack) -> None:
    roles = [Role.SALES_MANAGER, Role.FINANCE_CONTROLLER]
    handle, task_id = await start(stack, approval(candidate_roles=roles))
    claimed = await stack.api.post(f"/v1/tasks/{task_id}/claim", headers=stack.as_user(BOB))
    assert claimed.json()["assignee"] == "bob"
    to_a_rep = await stack.api.post(
        f"/v1/tasks/{task_id}/reassign", json={"assignee": "alice"}, headers=stack.as_user(BOB)
    )
    assert to_a_rep.status_code == 403  # she may not approve what her role cannot
    to_a_clerk = await stack.api.post(
        f"/v1/tasks/{task_id}/reassign", json={"assignee": "dave"}, headers=stack.as_user(ERIN)
    )
    assert to_a_clerk.status_code == 403  # not even an admin delegates past the roles
    delegated = await stack.api.post(
        f"/v1/tasks/{task_id}/reassign", json={"assignee": "carol"}, headers=stack.as_user(ERIN)
    )
    assert delegated.json()["assignee"] == "carol"
    # Now only carol may decide.
    assert (await post_decision(stack, task_id, BOB)).status_code == 403
    released = await stack.api.post(f"/v1/tasks/{task_id}/release", headers=stack.as_user(CAROL))
    assert released.json()["assignee"] is None
    unknown = await stack.api.post(
        f"/v1/tasks/{task_id}/reassign", json={"assignee": "nobody"}, headers=stack.as_user(ERIN)
    )
    assert unknown.status_code == 422
    assert (await post_decision(stack, task_id, BOB)).status_code == 200
    events = [entry["event"] for entry in (await wait_for_task(stack, task_id, ERIN))["history"]]
    assert events == [
        "created",
        "claimed by bob",
        "reassigned by erin to carol",
        "released by carol",
        "approve by bob",
    ]
    assert (await handle.result()).outcome == "approve"


async def test_reminder_escalation_and_expiry(stack: Stack) -> None:
    # A reminder goes out whenever the task first wakes before it expires: the wide gap keeps
    # that true on a busy machine, where a worker may wake seconds late (then one reminder
    # stands for the missed ones, and a rung past due is applied late).
    spec = approval(
        remind_every=timedelta(seconds=1),
        escalation=[EscalationRung(after=timedelta(seconds=3), roles=[Role.FINANCE_CONTROLLER])],
        expire_after=timedelta(seconds=8),
        expiry_outcome="reject",
    )
    handle, task_id = await start(stack, spec)
    result = await handle.result()
    assert (result.outcome, result.expired, result.escalation_level) == ("reject", True, 1)

    messages = await outbox(stack, task_id)
    assert "role:sales_manager: Reminder: Approve order SO-1 (12,400.00)" in messages
    assert "role:finance_controller: Escalated to you: Approve order SO-1 (12,400.00)" in messages
    assert (
        messages[-1]
        == "role:finance_controller: Expired with outcome reject: Approve order SO-1 (12,400.00)"
    )
    task = await wait_for_task(stack, task_id, ERIN)
    assert task["status"] == "expired"
    assert task["candidate_roles"] == ["finance_controller"]
    events = [entry["event"] for entry in task["history"]]
    assert "escalated (level 1) to finance_controller" in events
    assert any(event.startswith("reminder") for event in events)
    rows = ledger(stack, handle.id)
    assert [(r.actor_kind, r.outcome) for r in rows] == [("system", "reject")]


async def test_escalated_task_goes_to_carol_who_approves(stack: Stack) -> None:
    spec = approval(
        escalation=[EscalationRung(after=timedelta(seconds=1), roles=[Role.FINANCE_CONTROLLER])],
    )
    handle, task_id = await start(stack, spec)

    async def escalated() -> bool:
        return bool((await wait_for_task(stack, task_id, ERIN))["escalation_level"] == 1)

    await wait_for(escalated, f"task {task_id} to escalate")
    assert (await post_decision(stack, task_id, BOB)).status_code == 404
    assert (await post_decision(stack, task_id, CAROL)).status_code == 200
    result = await handle.result()
    assert (result.decided_by, result.escalation_level) == (["carol"], 1)


async def test_long_waits_continue_as_new(stack: Stack) -> None:
    spec = approval(remind_every=timedelta(milliseconds=200))
    handle, task_id = await start(stack, spec, history_limit=50)
    task_handle = stack.client.get_workflow_handle(task_id)
    first_run = (await task_handle.describe()).run_id

    async def continued() -> bool:
        return (await task_handle.describe()).run_id != first_run

    await wait_for(continued, "the task to continue as new")
    assert (await post_decision(stack, task_id, BOB)).status_code == 200
    result = await handle.result()
    assert result.decided_by == ["bob"]
    assert (await stack.client.get_workflow_handle(task_id).describe()).raw_description


def test_ledger_rows_are_unique_per_decision(stack: Stack) -> None:
    engine = make_engine(stack.settings.resolved_database_url)
    with session_scope(engine) as session:
        ids = session.exec(select(LedgerRow.decision_id)).all()
    engine.dispose()
    assert len(ids) == len(set(ids))


async def test_a_retried_decision_with_its_key_gets_the_same_answer(stack: Stack) -> None:
    handle, task_id = await start(stack, approval())
    headers = {**stack.as_user(BOB), "Idempotency-Key": "inbox-click-1"}
    body = {"outcome": "approve"}
    first = await stack.api.post(f"/v1/tasks/{task_id}/decision", json=body, headers=headers)
    again = await stack.api.post(f"/v1/tasks/{task_id}/decision", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (await handle.result()).decided_by == ["bob"]
    assert len(ledger(stack, handle.id)) == 1
