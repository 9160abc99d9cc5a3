"""An applied task action's one write (`inbox.record_action`): the inbox and the ledger in one
transaction, only for an action Baton signed whose user has the roles it claims; safe to retry;
and the signature of an action without roles is the one earlier releases made."""

import hashlib
import hmac
import json

from sqlalchemy import Engine
from sqlmodel import select

from activities.inbox import InboxActivities
from core.db import session_scope
from core.inbox import HumanTask
from core.keys import Keyring
from core.ledger import LedgerRow
from core.signing import Signer
from core.users import User, add_user
from tests.approvals import approval_record
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ActionKind,
    ActionWrite,
    ActorKind,
    LedgerEntry,
    TaskAction,
)

KEY = b"k" * 32
SIGNER = Signer(Keyring("k1", {"k1": KEY}))
TASK = "order-fulfillment:SO-1:task:approval"


def decided(user: str, roles: list[Role] | None) -> TaskAction:
    action = TaskAction(
        action_id="a1", kind=ActionKind.DECIDE, user=user, outcome="approve", roles=roles
    )
    return SIGNER.sign(TASK, action)


def write(action: TaskAction, seq: int = 2) -> ActionWrite:
    record = approval_record(TASK, seq=seq, event=f"approve by {action.user}")
    entry = LedgerEntry(
        decision_id=f"{TASK}:{action.action_id}",
        process_id=record.process_id,
        step="approval",
        actor_kind=ActorKind.HUMAN,
        actor=action.user,
        outcome="approve",
        decided_at=record.created_at,
    )
    return ActionWrite(task=record, entry=entry, check=action)


def rows(engine: Engine) -> tuple[list[str], int | None]:
    with session_scope(engine) as session:
        ledger = [row.actor for row in session.exec(select(LedgerRow)).all()]
        task = session.get(HumanTask, TASK)
        return ledger, task.seq if task else None


async def test_written_only_when_signed_and_the_roles_hold(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_user(session, "ben", [Role.SALES_MANAGER])
    activities = InboxActivities(engine, SIGNER)

    claims_more = await activities.record_action(write(decided("ben", [Role.ADMIN])))
    assert not claims_more.written
    assert claims_more.user is not None
    assert claims_more.user.roles == [Role.SALES_MANAGER]  # for the workflow to decide again
    forged = decided("ben", [Role.SALES_MANAGER]).model_copy(update={"outcome": "reject"})
    assert not (await activities.record_action(write(forged))).written
    assert not (await activities.record_action(write(decided("nobody", [])))).written
    assert rows(engine) == ([], None)

    assert (await activities.record_action(write(decided("ben", [Role.SALES_MANAGER])))).written
    assert rows(engine) == (["ben"], 2)


async def test_a_retry_after_the_write_committed_finds_it_done(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_user(session, "ben", [Role.SALES_MANAGER])
    activities = InboxActivities(engine, SIGNER)
    applied = write(decided("ben", [Role.SALES_MANAGER]))
    assert (await activities.record_action(applied)).written
    with session_scope(engine) as session:  # ben's roles change before the retry
        ben = session.exec(select(User).where(User.name == "ben")).one()
        ben.roles = [Role.ANALYST]
        session.add(ben)
    assert (await activities.record_action(applied)).written
    assert rows(engine) == (["ben"], 2)


def test_an_action_without_roles_is_signed_as_earlier_releases_signed_it() -> None:
    action = decided("bob", None)
    earlier = {"task_id": TASK, **action.model_dump(mode="json", exclude={"signature", "roles"})}
    canonical = json.dumps(earlier, sort_keys=True, separators=(",", ":")).encode()
    assert action.signature == f"k1:{hmac.new(KEY, canonical, hashlib.sha256).hexdigest()}"
    assert SIGNER.verify(TASK, action)
    with_roles = decided("bob", [Role.SALES_MANAGER])
    assert SIGNER.verify(TASK, with_roles)
    promoted = with_roles.model_copy(update={"roles": [Role.ADMIN]})
    assert not SIGNER.verify(TASK, promoted)  # the roles are signed too
