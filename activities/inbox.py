"""Inbox activities: the task projection, the decision ledger, insight's event log and user
look-ups (database).

Database calls are blocking, so each runs in a worker thread; the event loop stays free.
"""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity

from core import inbox, ledger
from core.db import session_scope
from core.insight import log as insight_log
from core.signing import Signer
from core.users import User
from workflows.contracts.insight import InsightActivity
from workflows.contracts.processes import ProcessState
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ActionWrite,
    ActionWritten,
    InboxActivity,
    LedgerEntry,
    TaskRecord,
    UserInfo,
    UserRequest,
)

T = TypeVar("T")


class InboxActivities:
    def __init__(self, engine: Engine, signer: Signer) -> None:
        self.engine = engine
        self.signer = signer  # verifies that task actions come from Baton's API or CLI

    @activity.defn(name=InboxActivity.WRITE_TASK)
    async def write_task(self, record: TaskRecord) -> bool:
        return await asyncio.to_thread(self._in_session, inbox.write_task, record)

    @activity.defn(name=InboxActivity.RECORD_DECISION)
    async def record_decision(self, entry: LedgerEntry) -> bool:
        # Its own transaction: appending to the process's hash chain may take a retry.
        return await asyncio.to_thread(ledger.append, self.engine, entry)

    @activity.defn(name=InboxActivity.RECORD_ACTION)
    async def record_action(self, write: ActionWrite) -> ActionWritten:
        return await asyncio.to_thread(self._record_action, write)

    @activity.defn(name=InsightActivity.RECORD_RUN)
    async def record_run(self, state: ProcessState) -> bool:
        return await asyncio.to_thread(self._in_session, insight_log.write_run, state)

    @activity.defn(name=InboxActivity.GET_USER)
    async def get_user(self, request: UserRequest) -> UserInfo:
        return await asyncio.to_thread(self._user, request)

    def _user(self, request: UserRequest) -> UserInfo:
        user = self._get_user(request.name)
        if request.action is not None:
            signed = self.signer.verify(request.task_id, request.action)
            user = user.model_copy(update={"signed": signed})
        return user

    def _record_action(self, write: ActionWrite) -> ActionWritten:
        """An applied action's inbox and ledger entries in one transaction; with a check, only
        if the action is Baton's and its user has the roles it claims (else the user as they
        are, for the workflow to decide again)."""
        # A retry after this write committed finds it done, whatever changed since.
        if (check := write.check) is not None and not self._written(write.task):
            user = self._user(
                UserRequest(name=check.user, task_id=write.task.task_id, action=check)
            )
            if not (user.signed and user.exists and set(user.roles) == set(check.roles or ())):
                return ActionWritten(written=False, user=user)
        if write.entry is None:
            self._in_session(inbox.write_task, write.task)
        else:
            ledger.append(
                self.engine,
                write.entry,
                alongside=lambda session: inbox.write_task(session, write.task),
            )
        return ActionWritten(written=True)

    def _written(self, record: TaskRecord) -> bool:
        """Whether the inbox holds this write (its ledger entry commits with it) or a later one."""
        with session_scope(self.engine) as session:
            task = session.get(inbox.HumanTask, record.task_id)
            return task is not None and task.seq >= record.seq

    def _in_session(self, write: Callable[[Session, T], bool], value: T) -> bool:
        with session_scope(self.engine) as session:
            return write(session, value)

    def _get_user(self, name: str) -> UserInfo:
        with session_scope(self.engine) as session:
            user = session.exec(select(User).where(User.name == name)).first()
            if user is None:
                return UserInfo(name=name, exists=False)
            return UserInfo(name=name, exists=True, roles=[Role(role) for role in user.roles])
