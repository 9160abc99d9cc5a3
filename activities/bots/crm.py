"""The CRM bot: captures customer interactions, records how they ended, finds a customer's
orders."""

from temporalio import activity

from activities.bots.http import SystemsHTTP
from workflows.contracts.bots import (
    BotActivity,
    CaptureInteraction,
    CustomerOrders,
    CustomerOrdersRequest,
    InteractionRecorded,
    RecordOutcome,
)


class CRMBot:
    def __init__(self, http: SystemsHTTP) -> None:
        self.http = http

    @activity.defn(name=BotActivity.CAPTURE_INTERACTION)
    async def capture_interaction(self, request: CaptureInteraction) -> InteractionRecorded:
        created = await self.http.write("/crm/interactions", request.model_dump())
        return InteractionRecorded(interaction_id=created["id"])

    @activity.defn(name=BotActivity.RECORD_OUTCOME)
    async def record_outcome(self, request: RecordOutcome) -> InteractionRecorded:
        path = f"/crm/interactions/{request.interaction_id}/outcome"
        await self.http.write(path, {"outcome": request.outcome})
        return InteractionRecorded(interaction_id=request.interaction_id)

    @activity.defn(name=BotActivity.FIND_CUSTOMER_ORDERS)
    async def find_customer_orders(self, request: CustomerOrdersRequest) -> CustomerOrders:
        interactions = await self.http.get(f"/crm/customers/{request.customer_id}/interactions")
        refs = [i["ref"] for i in interactions if i["kind"] == "order" and i["ref"]]
        return CustomerOrders(order_refs=list(dict.fromkeys(refs)))
