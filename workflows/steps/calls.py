"""One bot or AI step: an activity on its queue with the timeout and retries every process uses."""

from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import Priority, RetryPolicy

R = TypeVar("R", bound=BaseModel)

STEP_TIMEOUT = timedelta(seconds=30)
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
) -> R:
    answer: R = await workflow.execute_activity(
        name,
        request,
        result_type=result,
        task_queue=queue,
        start_to_close_timeout=STEP_TIMEOUT,
        retry_policy=RETRY,
        summary=summary,
        priority=priority,
    )
    return answer
