"""The human-task step: a child workflow per task, with reminders, an escalation ladder,
segregation of duties and approval rules. A process calls `await human_task(spec, ...)`.

A task is its own workflow so that its id is the task id (the API signals it directly), its
timers and decisions stay out of the process's history, and a long wait continues as new.
Every action carries an id, and a repeated one counts once. It arrives as the `act` signal
(the Temporal UI, the CLI, scripts) or as the `act_and_answer` update (Baton's API), which
answers with the verdict: no polling. Both go through one queue and the same checks, because
the workflow checks every action itself: the action must be signed by Baton, and the user's
roles are the database's (the API signs the roles it saw; one local activity confirms them
against the database as it writes the inbox and the ledger, and an action whose roles do not
hold is decided again on the database's word). The update's validator also refuses a
malformed action before it is written to history; any other refusal is in the ledger.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

from workflows.contracts import search_attributes as search
from workflows.contracts.bots import BotActivity, Notified, Notify
from workflows.contracts.priority import Priority
from workflows.contracts.queues import Queues
from workflows.contracts.tasks import (
    ACT_SIGNAL,
    ACT_UPDATE,
    PREVIEW_QUERY,
    REFUSED_MALFORMED,
    TASK_WORKFLOW,
    VERDICT_QUERY,
    ActionKind,
    ActionWrite,
    ActionWritten,
    ActorKind,
    Decision,
    DecisionPreview,
    InboxActivity,
    LedgerEntry,
    Refusal,
    TaskAction,
    TaskInput,
    TaskRecord,
    TaskResult,
    TaskSpec,
    TaskState,
    TaskStatus,
    UserInfo,
    UserRequest,
    Verdict,
    VerdictLookup,
    task_id_for,
)
from workflows.steps.calls import call, inbox_call
from workflows.steps.ledger import record_decision
from workflows.steps.patches import Patches

SIGNED_ACTIONS = "signed-actions"  # the patch that made the workflow verify signatures
# The patch after which an action is checked with the roles the API signed and its inbox and
# ledger entries are written by one local activity that confirms them (one workflow task, one
# call, instead of a look-up, a ledger write and an inbox write in turn).
ONE_WRITE = "one-write-per-action"
# A timer applied this much after its time says so in the task's history (after an outage).
LATE = timedelta(seconds=2)
# A lost reminder is better than a task stuck behind an unreachable mail system.
NOTIFY_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30))


class _Refused(Exception):
    def __init__(self, status: int, refusal: Refusal, reason: str) -> None:
        super().__init__(reason)
        self.status, self.refusal, self.reason = status, refusal, reason

    @property
    def forged(self) -> bool:
        return self.refusal is Refusal.FORGED

    def verdict(self, action_id: str) -> Verdict:
        return Verdict(
            action_id=action_id,
            applied=False,
            reason=self.reason,
            status=self.status,
            refusal=self.refusal,
        )


@workflow.defn(name=TASK_WORKFLOW, failure_exception_types=[ValidationError])
class HumanTaskWorkflow:
    @workflow.init
    def __init__(self, task: TaskInput) -> None:
        self.task = task
        self.spec: TaskSpec = task.spec
        self.task_id = workflow.info().workflow_id
        self.state = task.state or TaskState(
            created_at=workflow.now(),
            candidate_roles=self.spec.approval.levels[0]
            if self.spec.approval.kind == "sequential"
            else self.spec.candidate_roles,
            assignee=self.spec.assignee,
        )
        self.pending: list[TaskAction] = []
        self.result: TaskResult | None = None
        self.shown_waiting_on: str | None = None
        self.handling: str | None = None  # the action being checked now (it awaits activities)
        self.patches = Patches(ONE_WRITE)
        self.unwritten: LedgerEntry | None = None  # a decision's entry, written with the inbox

    # -- handlers -------------------------------------------------------------------------------

    @workflow.signal(name=ACT_SIGNAL)
    def act(self, action: TaskAction) -> None:
        seen = (
            action.action_id in self.state.verdicts
            or action.action_id == self.handling
            or any(queued.action_id == action.action_id for queued in self.pending)
        )
        if not seen:
            self.pending.append(action)

    @workflow.update(name=ACT_UPDATE)
    async def act_and_answer(self, action: TaskAction) -> Verdict:
        self.act(action)
        await workflow.wait_condition(lambda: action.action_id in self.state.verdicts)
        return self.state.verdicts[action.action_id]

    @act_and_answer.validator
    def _acceptable(self, action: TaskAction) -> None:
        if action.action_id in self.state.verdicts:
            return  # a retry: it gets the verdict it had
        if action.kind is ActionKind.DECIDE:
            problems = self.spec.form.problems(action.outcome, action.comment, action.data)
            if problems:
                raise ApplicationError("; ".join(map(str, problems)), type=REFUSED_MALFORMED)
        if action.kind is ActionKind.REASSIGN and not action.assignee:
            raise ApplicationError("assignee: required to reassign", type=REFUSED_MALFORMED)

    @workflow.query(name=VERDICT_QUERY)
    def verdict(self, action_id: str) -> VerdictLookup:
        return VerdictLookup(verdict=self.state.verdicts.get(action_id))

    @workflow.query(name=PREVIEW_QUERY)
    def preview(self, preview: DecisionPreview) -> Verdict:
        """Whether a decision would be applied, and if not why, changing nothing (a dry run).
        The caller vouches for the roles: a preview grants nothing."""
        action = preview.action
        user = UserInfo(name=action.user, exists=True, roles=preview.roles)
        try:
            self._check_open()
            self._check_decision(action, user)
        except _Refused as refused:
            return refused.verdict(action.action_id)
        return Verdict(action_id=action.action_id, applied=True)

    @workflow.query
    def record(self) -> TaskRecord:
        return self._record()

    # -- the loop -------------------------------------------------------------------------------

    @workflow.run
    async def run(self, task: TaskInput) -> TaskResult:
        if task.state is None:
            await self._write("created")
        try:
            while self.result is None:
                self._show_waiting()
                deadline = self._next_deadline()
                timeout = max(deadline - workflow.now(), timedelta(0)) if deadline else None
                with contextlib.suppress(TimeoutError):  # a timer is due
                    await workflow.wait_condition(
                        lambda: bool(self.pending),
                        timeout=timeout,
                        timeout_summary=f"next timer of {self.spec.name}",
                    )
                while self.pending:  # after the task closes, the rest are refused
                    await self._handle(self.pending.pop(0))
                if self.result is None:
                    await self._on_time()
                if self.result is None and not self.pending and self._history_is_long():
                    # An action that comes in meanwhile is handled first (its caller waits).
                    await workflow.wait_condition(self._idle_or_acted_on)
                    if not self.pending:
                        workflow.continue_as_new(task.model_copy(update={"state": self.state}))
        except asyncio.CancelledError:
            self.result = self._result("cancelled", cancelled=True)
            await self._write("cancelled with its process", TaskStatus.CANCELLED)
            await self._refuse_the_rest()
            raise
        await self._refuse_the_rest()
        return self.result

    async def _refuse_the_rest(self) -> None:
        """Actions that came in as the task closed are refused (and recorded), never lost, and
        it ends only once every caller has its answer."""
        while True:
            while self.pending:
                await self._handle(self.pending.pop(0))
            await workflow.wait_condition(self._idle_or_acted_on)
            if not self.pending:
                return

    def _idle_or_acted_on(self) -> bool:
        return bool(self.pending) or workflow.all_handlers_finished()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self.task.history_limit
        )

    # -- time: reminders, escalation, expiry ----------------------------------------------------

    def _at(self, after: timedelta) -> datetime:
        return self.state.created_at + after

    def _next_rung_at(self) -> datetime | None:
        level = self.state.escalation_level
        rungs = self.spec.escalation
        return self._at(rungs[level].after) if level < len(rungs) else None

    def _next_reminder_at(self) -> datetime | None:
        every = self.spec.remind_every
        return self._at(every * (self.state.reminders_sent + 1)) if every else None

    def _expires_at(self) -> datetime | None:
        return self._at(self.spec.expire_after) if self.spec.expire_after else None

    def _due_at(self) -> datetime | None:
        if self.spec.due_in:
            return self._at(self.spec.due_in)
        return self._next_rung_at() or self._expires_at()

    def _next_deadline(self) -> datetime | None:
        times = [self._next_rung_at(), self._next_reminder_at(), self._expires_at()]
        return min((t for t in times if t is not None), default=None)

    async def _on_time(self) -> None:
        """Applies what fell due. After an outage several rungs and the expiry may be due at
        once: every rung due before the expiry is applied in order, with its notification and
        a history entry that says how late, and only then the expiry, so nobody on the ladder
        silently misses a task."""
        now = workflow.now()
        expires_at = self._expires_at()
        while (rung_at := self._next_rung_at()) and rung_at <= now:
            if expires_at and rung_at >= expires_at:
                break  # the task expired before this rung was due
            await self._escalate(late=now - rung_at)
        if expires_at and now >= expires_at:
            await self._expire()
            return
        reminder_at = self._next_reminder_at()
        if reminder_at and now >= reminder_at and self.spec.remind_every:
            # After downtime, one reminder for all the missed ones.
            self.state.reminders_sent = (now - self.state.created_at) // self.spec.remind_every
            await self._notify_candidates(f"Reminder: {self.spec.title}")
            await self._write(f"reminder {self.state.reminders_sent} sent")

    async def _escalate(self, late: timedelta) -> None:
        rung = self.spec.escalation[self.state.escalation_level]
        self.state.escalation_level += 1
        self.state.candidate_roles = list(rung.roles)
        self.state.assignee = rung.assignee
        workflow.logger.info("task %s escalated to %s", self.task_id, rung.roles)
        event = f"escalated (level {self.state.escalation_level}) to " + ", ".join(
            role.value for role in rung.roles
        )
        if late >= LATE:
            event += f", {late.total_seconds():.0f} s late (the workers or Temporal were down)"
        await self._write(event)
        if rung.notify:
            await self._notify_candidates(f"Escalated to you: {self.spec.title}")

    async def _expire(self) -> None:
        outcome = self.spec.expiry_outcome
        self.result = self._result(outcome, expired=True)
        self.unwritten = self._entry(
            f"{self.task_id}:expiry", ActorKind.SYSTEM, "expiry", outcome, "the due time passed"
        )
        await self._write(f"expired; outcome {outcome}", TaskStatus.EXPIRED)
        await self._notify_candidates(f"Expired with outcome {outcome}: {self.spec.title}")

    # -- actions ----------------------------------------------------------------------------------

    async def _handle(self, action: TaskAction) -> None:
        self.handling = action.action_id
        try:
            self._check_open()
            await self._apply_and_write(action)
        except _Refused as refused:
            verdict = refused.verdict(action.action_id)
            if action.kind is ActionKind.DECIDE or refused.forged:
                refusal = self._entry(
                    f"{self.task_id}:{action.action_id}",
                    ActorKind.HUMAN,
                    action.user,
                    action.outcome or "",
                    action.comment,
                    applied=False,
                    reason=refused.reason,
                )
                await record_decision(refusal, self.task.queues)
            workflow.logger.info(
                "task %s refused %s %s by %s: %s",
                self.task_id,
                action.kind.value,
                action.action_id,
                action.user,
                refused.reason,
            )
        else:
            verdict = Verdict(action_id=action.action_id, applied=True)
        # Recorded last: the API answers once the inbox and the ledger show the change.
        self.state.verdicts[action.action_id] = verdict
        self.handling = None

    async def _apply_and_write(self, action: TaskAction) -> None:
        """Applies the action and writes what it changed. With the roles the API signed, it is
        applied at once and written by one call that confirms them; if they do not hold (a
        forged action, roles changed since), it is undone and decided again on the database's
        word, as an action without them always is."""
        if self.patches.patched(ONE_WRITE) and action.roles is not None:
            before = self.state.model_copy(deep=True), self.result
            claimed = UserInfo(name=action.user, exists=True, roles=action.roles)
            try:
                event = await self._apply(action, claimed)
                if await self._write(event, self._status(), check=action):
                    return
            except _Refused:
                pass  # refused on the database's word below
            except BaseException:  # cancelled meanwhile: nothing unconfirmed stays
                self._undo(before)
                raise
            self._undo(before)
        event = await self._apply(action, await self._actor(action))
        await self._write(event, self._status())

    def _undo(self, before: tuple[TaskState, TaskResult | None]) -> None:
        """Back to `before`, an action's unconfirmed changes undone; the inbox's sequence stays
        where it got, so the next write supersedes any this action's made."""
        seq = self.state.inbox_seq
        self.state, self.result = before
        self.state.inbox_seq, self.unwritten = seq, None

    def _status(self) -> TaskStatus:
        return TaskStatus.COMPLETED if self.result else TaskStatus.OPEN

    async def _apply(self, action: TaskAction, user: UserInfo) -> str:
        if not user.exists:
            raise _Refused(403, Refusal.UNKNOWN_USER, f"unknown user {action.user!r}")
        is_admin = "admin" in user.roles
        if action.kind is ActionKind.CLAIM:
            self._check_eligible(user)
            if self.state.assignee not in (None, user.name):
                raise _Refused(
                    409, Refusal.ALREADY_CLAIMED, f"already claimed by {self.state.assignee}"
                )
            self.state.assignee = user.name
            return f"claimed by {user.name}"
        if action.kind is ActionKind.RELEASE:
            if self.state.assignee != user.name and not is_admin:
                raise _Refused(
                    403,
                    Refusal.NOT_THE_ASSIGNEE,
                    "only the assignee or an admin may release the task",
                )
            self.state.assignee = None
            return f"released by {user.name}"
        if action.kind is ActionKind.REASSIGN:
            if self.state.assignee != user.name and not is_admin:
                raise _Refused(
                    403,
                    Refusal.NOT_THE_ASSIGNEE,
                    "only the assignee or an admin may reassign the task",
                )
            target = await self._user(action.assignee or "")
            if not set(target.roles) & set(self.state.candidate_roles):
                # Delegation never carries a decision to someone without the role for it,
                # whoever delegates (admins included).
                raise _Refused(
                    403, Refusal.DELEGATE_LACKS_ROLE, f"{target.name} lacks a role this task needs"
                )
            self.state.assignee = action.assignee
            return f"reassigned by {user.name} to {action.assignee}"
        return await self._decide(action, user)

    async def _actor(self, action: TaskAction) -> UserInfo:
        """Who acts: their roles from the database, never from the signal, and the action
        only if Baton's API or CLI signed it (runs from before signing was checked replay as
        they ran)."""
        if not self.patches.patched(SIGNED_ACTIONS):
            return await self._user(action.user)
        user = await self._user(action.user, action)
        if not user.signed:
            raise _Refused(
                403, Refusal.FORGED, "the action is not signed by Baton (forged or tampered)"
            )
        return user

    async def _user(self, name: str, action: TaskAction | None = None) -> UserInfo:
        return await inbox_call(
            InboxActivity.GET_USER,
            UserRequest(name=name, task_id=self.task_id, action=action),
            UserInfo,
            queues=self.task.queues,
            summary=f"look up {name}",
        )

    def _check_open(self) -> None:
        if self.result is not None:
            raise _Refused(409, Refusal.CLOSED, f"the task is closed ({self.result.outcome})")

    def _check_eligible(self, user: UserInfo) -> None:
        if self.state.assignee is not None:
            if self.state.assignee != user.name:
                raise _Refused(
                    403,
                    Refusal.ASSIGNED_ELSEWHERE,
                    f"the task is assigned to {self.state.assignee}",
                )
            return
        approvers = self.spec.approval.approvers
        if approvers and self.spec.approval.kind == "k_of_n":
            if user.name not in approvers:
                raise _Refused(
                    403, Refusal.NOT_AN_APPROVER, f"{user.name} is not one of the approvers"
                )
            return
        if not set(user.roles) & set(self.state.candidate_roles):
            wanted = ", ".join(role.value for role in self.state.candidate_roles)
            raise _Refused(
                403, Refusal.LACKS_ROLE, f"{user.name} lacks a role this task needs ({wanted})"
            )

    def _check_form(self, action: TaskAction) -> None:
        problems = self.spec.form.problems(action.outcome, action.comment, action.data)
        if problems:
            raise _Refused(422, Refusal.INVALID, "; ".join(map(str, problems)))

    def _check_decision(self, action: TaskAction, user: UserInfo) -> None:
        """Raises the refusal of a decision by `user`, who exists (the update and the dry run)."""
        self._check_form(action)
        self._check_eligible(user)
        if self.spec.four_eyes and user.name == self.spec.requester:
            raise _Refused(
                403, Refusal.FOUR_EYES, "four-eyes: the requester may not decide their own request"
            )
        if user.name in (decision.user for decision in self.state.decisions):
            raise _Refused(
                403, Refusal.ALREADY_DECIDED, f"{user.name} has already decided on this task"
            )

    async def _decide(self, action: TaskAction, user: UserInfo) -> str:
        self._check_decision(action, user)
        assert action.outcome is not None  # _check_form made sure
        self.state.decisions.append(
            Decision(
                user=user.name,
                outcome=action.outcome,
                comment=action.comment,
                data=action.data,
                decided_at=workflow.now(),
                level=self.state.approval_level,
            )
        )
        # Written with the task's inbox entry, once the action is applied.
        self.unwritten = self._entry(
            f"{self.task_id}:{action.action_id}",
            ActorKind.HUMAN,
            user.name,
            action.outcome,
            action.comment,
            action.data,
        )
        return self._advance(action.outcome, user.name)

    def _advance(self, outcome: str, by: str) -> str:
        """Applies the approval rule after a decision; sets the result when the task closes."""
        rule = self.spec.approval
        if rule.kind == "one" or outcome != rule.approve_outcome:
            self.result = self._result(outcome)
            return f"{outcome} by {by}"
        if rule.kind == "k_of_n":
            approvals = sum(d.outcome == rule.approve_outcome for d in self.state.decisions)
            if approvals >= rule.needed:
                self.result = self._result(outcome)
            return f"{outcome} by {by} ({approvals} of {rule.needed})"
        self.state.approval_level += 1
        if self.state.approval_level == len(rule.levels):
            self.result = self._result(outcome)
            return f"{outcome} by {by} (last level)"
        self.state.candidate_roles = list(rule.levels[self.state.approval_level])
        self.state.assignee = None
        return f"{outcome} by {by}; level {self.state.approval_level + 1} opens"

    def _result(
        self, outcome: str, *, expired: bool = False, cancelled: bool = False
    ) -> TaskResult:
        last = self.state.decisions[-1] if self.state.decisions else None
        return TaskResult(
            task_id=self.task_id,
            outcome=outcome,
            expired=expired,
            cancelled=cancelled,
            decisions=list(self.state.decisions),
            data=last.data if last else {},
            comment=last.comment if last else "",
            escalation_level=self.state.escalation_level,
            created_at=self.state.created_at,
        )

    # -- side effects through activities --------------------------------------------------------

    def _record(
        self, status: TaskStatus = TaskStatus.OPEN, event: str = "", seq: int = 0
    ) -> TaskRecord:
        spec = self.spec
        return TaskRecord(
            task_id=self.task_id,
            process_id=self.task.process_id,
            process_type=self.task.process_type,
            name=spec.name,
            kind=spec.kind,
            title=spec.title,
            description=spec.description,
            form=spec.form,
            context=spec.context,
            candidate_roles=self.state.candidate_roles,
            assignee=self.state.assignee,
            requester=spec.requester,
            priority=self.task.priority,
            status=status,
            outcome=self.result.outcome if self.result else None,
            escalation_level=self.state.escalation_level,
            approval_level=self.state.approval_level,
            due_at=None if self.result else self._due_at(),
            created_at=self.state.created_at,
            closed_at=workflow.now() if self.result else None,
            event=event,
            seq=seq,
        )

    async def _write(
        self, event: str, status: TaskStatus = TaskStatus.OPEN, check: TaskAction | None = None
    ) -> bool:
        """The task's inbox entry, and the decision's ledger entry if one is unwritten; with
        `check`, only if that action's signature and roles hold. Whether it was written."""
        self.state.inbox_seq += 1
        record = self._record(status, event, self.state.inbox_seq)
        entry, self.unwritten = self.unwritten, None
        if self.patches.patched(ONE_WRITE):
            written = await inbox_call(
                InboxActivity.RECORD_ACTION,
                ActionWrite(task=record, entry=entry, check=check),
                ActionWritten,
                queues=self.task.queues,
                summary=f"inbox: {event}" + (" (decision in the ledger)" if entry else ""),
            )
            return written.written
        if entry is not None:  # runs from before ONE_WRITE: the ledger, then the inbox
            await record_decision(entry, self.task.queues)
        await inbox_call(
            InboxActivity.WRITE_TASK,
            record,
            bool,
            queues=self.task.queues,
            summary=f"inbox: {event}",
        )
        return True

    def _entry(
        self,
        decision_id: str,
        kind: ActorKind,
        actor: str,
        outcome: str,
        comment: str,
        data: dict[str, Any] | None = None,
        *,
        applied: bool = True,
        reason: str = "",
    ) -> LedgerEntry:
        return LedgerEntry(
            decision_id=decision_id,
            process_id=self.task.process_id,
            step=self.spec.name,
            actor_kind=kind,
            actor=actor,
            outcome=outcome,
            comment=comment,
            data=data or {},
            applied=applied,
            reason=reason,
            decided_at=workflow.now(),
        )

    async def _notify_candidates(self, subject: str) -> None:
        recipients = (
            [self.state.assignee]
            if self.state.assignee
            else [f"role:{role.value}" for role in self.state.candidate_roles]
        )
        for recipient in recipients:
            try:
                await call(
                    BotActivity.NOTIFY,
                    Notify(
                        recipient=recipient,
                        channel="inbox",
                        subject=subject,
                        body=self.spec.description,
                        ref=self.task_id,
                    ),
                    Notified,
                    queue=self.task.queues.bots,
                    retry=NOTIFY_RETRY,
                    summary=f"notify {recipient}",
                )
            except ActivityError as exc:
                workflow.logger.warning(
                    "task %s: notifying %s failed: %s", self.task_id, recipient, exc
                )

    def _show_waiting(self) -> None:
        """What the Temporal UI shows of this task while it waits."""
        waiting_on = self.state.assignee or ", ".join(r.value for r in self.state.candidate_roles)
        since = self.state.created_at.strftime("%Y-%m-%d %H:%M UTC")
        details = f"Waiting for {waiting_on} since {since}"
        if rung_at := self._next_rung_at():
            details += f"; escalates at {rung_at.strftime('%H:%M:%S')}"
        if expires_at := self._expires_at():
            details += f"; expires at {expires_at.strftime('%H:%M:%S')}"
        workflow.set_current_details(details)
        if waiting_on == self.shown_waiting_on:
            return  # every upsert is a history event; only changes are worth one
        self.shown_waiting_on = waiting_on
        workflow.upsert_search_attributes(
            [
                search.PROCESS_TYPE.value_set(self.task.process_type),
                search.BUSINESS_KEY.value_set(self.task.process_id),
                search.STAGE.value_set(f"task:{self.spec.name}"),
                search.WAITING_ON.value_set(waiting_on),
            ]
        )


async def human_task(
    spec: TaskSpec,
    *,
    process_type: str,
    queues: Queues,
    priority: Priority = Priority.NORMAL,
    history_limit: int = 2_000,
) -> TaskResult:
    """Opens a task for people and waits for its result (a decision, expiry or cancellation)."""
    process_id = workflow.info().workflow_id
    return await workflow.execute_child_workflow(
        HumanTaskWorkflow.run,
        TaskInput(
            process_id=process_id,
            process_type=process_type,
            spec=spec,
            queues=queues,
            priority=priority,
            history_limit=history_limit,
        ),
        id=task_id_for(process_id, spec.name),
        static_summary=spec.title,
        static_details=spec.description or None,
        # Cancelling the process cancels the task, which then closes its inbox entry.
        parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
    )
