"""The MES bot: production orders for what stock cannot cover."""

from temporalio import activity

from activities.bots.http import SystemsHTTP
from workflows.contracts.bots import (
    BotActivity,
    CancelProduction,
    FindProductionOrders,
    ProductionOrder,
    ProductionOrders,
    ScheduleProduction,
)


def _production_order(body: dict[str, object]) -> ProductionOrder:
    return ProductionOrder.model_validate({**body, "production_order_id": body["id"]})


class MESBot:
    def __init__(self, http: SystemsHTTP) -> None:
        self.http = http

    @activity.defn(name=BotActivity.SCHEDULE_PRODUCTION)
    async def schedule_production(self, request: ScheduleProduction) -> ProductionOrder:
        return _production_order(
            await self.http.write("/mes/production-orders", request.model_dump())
        )

    @activity.defn(name=BotActivity.CANCEL_PRODUCTION)
    async def cancel_production(self, request: CancelProduction) -> ProductionOrder:
        path = f"/mes/production-orders/{request.production_order_id}/cancel"
        return _production_order(await self.http.write(path))

    @activity.defn(name=BotActivity.FIND_PRODUCTION_ORDERS)
    async def find_production_orders(self, request: FindProductionOrders) -> ProductionOrders:
        found = await self.http.get("/mes/production-orders", order_ref=request.order_ref)
        return ProductionOrders(production_orders=[_production_order(body) for body in found])
