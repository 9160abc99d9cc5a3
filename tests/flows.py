"""Small workflows the tests run; a module of their own so the workflow sandbox can load them."""

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

from tests.restock import RestockWorkflow
from workflows.contracts.bots import (
    AddForecast,
    BotActivity,
    ForecastEntry,
    Reservation,
    ReserveStock,
)
from workflows.contracts.orders import OrderRun
from workflows.contracts.queues import Queues, TaskQueue
from workflows.contracts.tasks import TaskResult, TaskSpec
from workflows.steps.human_task import human_task

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.5)
TIMEOUT = timedelta(seconds=10)


@workflow.defn
class ReserveAndForecast:
    """Two bot writes, as a process makes them."""

    @workflow.run
    async def run(self, order: ReserveStock) -> Reservation:
        reservation: Reservation = await workflow.execute_activity(
            BotActivity.RESERVE_STOCK,
            order,
            result_type=Reservation,
            start_to_close_timeout=TIMEOUT,
            retry_policy=FAST_RETRY,
        )
        forecast = AddForecast(
            order_ref=order.order_ref, customer_id="C-1010", amount=10, period="2026-12"
        )
        await workflow.execute_activity(
            BotActivity.ADD_FORECAST,
            forecast,
            result_type=ForecastEntry,
            start_to_close_timeout=TIMEOUT,
            retry_policy=FAST_RETRY,
        )
        return reservation


@workflow.defn
class ShoutWorkflow:
    """One activity on the bots queue, to see workers start, drain and resume."""

    @workflow.run
    async def run(self, text: str) -> str:
        shouted: str = await workflow.execute_activity(
            "shout", text, task_queue=TaskQueue.BOTS.value, start_to_close_timeout=TIMEOUT
        )
        return shouted


class ApprovalInput(BaseModel):
    spec: TaskSpec
    queues: Queues
    history_limit: int = 2_000


@workflow.defn
class ApprovalProcess:
    """The smallest process with a person in it: one human task, its result returned."""

    @workflow.run
    async def run(self, request: ApprovalInput) -> TaskResult:
        return await human_task(
            request.spec,
            process_type="test-approval",
            queues=request.queues,
            history_limit=request.history_limit,
        )


@workflow.defn(name="OrderFulfillment")
class ReorderedOrderFulfillment:
    """What a careless change looks like: the same workflow type, other steps (replay only)."""

    @workflow.run
    async def run(self, run: OrderRun) -> None:
        await workflow.sleep(1)


TEST_WORKFLOWS = [ReserveAndForecast, ShoutWorkflow, ApprovalProcess, RestockWorkflow]
