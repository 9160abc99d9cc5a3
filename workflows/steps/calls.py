"""One activity call, with the timeouts and retries every process and task uses: one home for
each, so a bot step, an AI step and an inbox write never drift apart."""

from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import Priority, RetryPolicy

from workflows.contracts.queues import Queues

R = TypeVar("R")

# One try of one call. Short enough that a step lost with a killed worker is retried soon,
# long enough for the call's own timeout (BATON_BOTS_TIMEOUT_SECONDS 10, BATON_AI_TIMEOUT_SECONDS
# 60) to fire first.
BOT_TIMEOUT = timedelta(seconds=15)
AI_TIMEOUT = timedelta(seconds=75)
INBOX_TIMEOUT = timedelta(seconds=10)  # one inbox or ledger write, or a user look-up
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
# The patch after which inbox, ledger and user calls are local activities.
LOCAL_INBOX = "local-inbox"


async def call(
    name: str,
    request: BaseModel,
    result: type[R],
    *,
    queue: str,
    summary: str,
    priority: Priority = Priority.default,
    retry: RetryPolicy = RETRY,
    start_to_close: timedelta = BOT_TIMEOUT,
) -> R:
    answer: R = await workflow.execute_activity(
        name,
        request,
        result_type=result,
        task_queue=queue,
        start_to_close_timeout=start_to_close,
        retry_policy=retry,
        summary=summary,
        priority=priority,
    )
    return answer


async def inbox_call(
    name: str, request: BaseModel, result: type[R], *, queues: Queues, summary: str
) -> R:
    """An inbox or ledger write or a user look-up: a short database call, run as a local
    activity by the workflow's own worker (no task queue round trip, and a decision is applied
    in one workflow task). Runs from before the patch replay as regular activities on the inbox
    queue, as they ran."""
    if not workflow.patched(LOCAL_INBOX):
        return await call(
            name, request, result, queue=queues.inbox, summary=summary, start_to_close=INBOX_TIMEOUT
        )
    answer: R = await workflow.execute_local_activity(
        name,
        request,
        result_type=result,
        start_to_close_timeout=INBOX_TIMEOUT,
        retry_policy=RETRY,
        summary=summary,
    )
    return answer
