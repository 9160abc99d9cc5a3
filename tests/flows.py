"""Small workflows the tests run; a module of their own so the workflow sandbox can load them."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.contracts.bots import (
    AddForecast,
    BotActivity,
    ForecastEntry,
    Reservation,
    ReserveStock,
)

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
