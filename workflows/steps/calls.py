"""One activity call, with the timeouts and retries every process and task uses: one home for
each, so a bot step, an AI step and an inbox write never drift apart."""

from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import Priority, RetryPolicy

R = TypeVar("R")

STEP_TIMEOUT = timedelta(seconds=30)  # one bot or AI call, one try
INBOX_TIMEOUT = timedelta(seconds=30)  # one inbox or ledger write, one try
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


async def call(
    name: str,
    request: BaseModel,
    result: type[R],
    *,
    queue: str,
    summary: str,
    priority: Priority = Priority.default,
    retry: RetryPolicy = RETRY,
    start_to_close: timedelta = STEP_TIMEOUT,
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
