"""Customer service: a customer's message that is not an order, handled by an agent.

capture (the CRM records the message; the customer's own orders; what the message asks) ->
agent (the agent looks the order up with bot tools; a change waits for a sales rep's approval)
-> answer the customer (only when the agent handed over or was unsure: a sales rep writes the
reply) -> reply (the customer is told; the CRM interaction closed).
"""

from typing import Any

from pydantic import BaseModel
from temporalio import workflow

from workflows.contracts.agent import AgentAction, ToolOutcome
from workflows.contracts.ai import (
    AIActivity,
    ClassifyMessageRequest,
    ClassifyMessageResult,
    Intent,
)
from workflows.contracts.bots import (
    BotActivity,
    CaptureInteraction,
    ChangeReservedQuantity,
    CustomerOrders,
    CustomerOrdersRequest,
    FindProductionOrders,
    FindReservations,
    InteractionRecorded,
    Notified,
    Notify,
    ProductionOrders,
    RecordOutcome,
    Reservation,
    Reservations,
)
from workflows.contracts.processes import ProcessState
from workflows.contracts.roles import Role
from workflows.contracts.service import ANSWER, CUSTOMER_SERVICE, ServiceRun
from workflows.contracts.tasks import TaskForm, TaskSpec
from workflows.steps.agent import Agent, AgentOutcome, Guardrails, Tool
from workflows.steps.process import Process, process

GOAL = (
    "You answer a manufacturer's customers about their orders (order numbers look like "
    "SO-1A2B3C4D5E). Look the order up before you answer; change an order only when the "
    "customer asks for the change."
)
TOOLS = (
    Tool(
        BotActivity.FIND_RESERVATIONS,
        FindReservations,
        Reservations,
        "look up the reservations",
        "The ERP's stock reservations of an order: each line's quantity, what is reserved for "
        "it and what is short (to be produced).",
    ),
    Tool(
        BotActivity.FIND_PRODUCTION_ORDERS,
        FindProductionOrders,
        ProductionOrders,
        "look up the production orders",
        "The MES production orders made for an order's shortfall, with their completion dates.",
    ),
    Tool(
        BotActivity.CHANGE_RESERVED_QUANTITY,
        ChangeReservedQuantity,
        Reservation,
        "change the reserved quantity",
        "Sets the quantity of one line of a reservation: more is reserved from stock, less is "
        "put back.",
        writes=True,
    ),
)


@process(CUSTOMER_SERVICE)
class CustomerServiceWorkflow(Process[ServiceRun]):
    @workflow.init
    def __init__(self, run: ServiceRun) -> None:
        super().__init__(run)
        self.own_orders: list[str] = []
        self.intent: Intent | None = None
        self.agent = Agent(self, GOAL, TOOLS, self._guardrails())
        self.outcome: AgentOutcome | None = None
        self.reply = ""
        self.answered_by_person = False

    def view(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"message": self.run_input.request.message}
        if self.intent is not None:
            shown["intent"] = self.intent.value
        if self.outcome is not None:
            shown["agent"] = {
                "action": self.outcome.action.value,
                "text": self.outcome.text,
                "confidence": self.outcome.confidence,
                "tool_calls": [o.model_dump(mode="json") for o in self.outcome.transcript],
            }
        if self.reply:
            shown["reply"] = self.reply
        return shown

    def objects(self) -> list[str]:
        orders = {
            str(o.call.arguments["order_ref"])
            for o in self.agent.transcript
            if o.result is not None and "order_ref" in o.call.arguments
        }
        customer = self.run_input.request.customer_id
        return [f"customer:{customer}", *(f"order:{ref}" for ref in sorted(orders))]

    @workflow.run
    async def run(self, run: ServiceRun) -> ProcessState:
        async with self.conducting():
            interaction = await self._capture()
            outcome = await self._agent()
            facts = self.state.facts
            if self.run_input.policy.needs_person(
                facts["handed_over"], facts["answer_confidence"], facts["looked_up"]
            ):
                await self._answer_by_a_person(outcome)
            else:
                self.reply = outcome.text
            await self._close(interaction, outcome)
        return self.live_state()

    # -- the stages -------------------------------------------------------------------------------

    async def _capture(self) -> InteractionRecorded:
        self.tracker.stage("capture")
        request, key = self.run_input.request, self.run_input.business_key
        interaction = await self.bot_step(
            "record the interaction in the CRM",
            BotActivity.CAPTURE_INTERACTION,
            CaptureInteraction(
                customer_id=request.customer_id,
                channel=request.channel,
                kind="service",
                text=request.message,
                ref=key,
            ),
            InteractionRecorded,
            f"CRM: capture {key} for {request.customer_id}",
        )
        orders = await self.bot_step(
            "look up the customer's orders",
            BotActivity.FIND_CUSTOMER_ORDERS,
            CustomerOrdersRequest(customer_id=request.customer_id),
            CustomerOrders,
            f"CRM: the orders of {request.customer_id}",
        )
        self.own_orders = orders.order_refs
        classified = await self.ai_step(
            "classify the message",
            AIActivity.CLASSIFY_MESSAGE,
            ClassifyMessageRequest(text=request.message),
            ClassifyMessageResult,
            "AI: what does the customer want?",
            ledger=("classify", lambda answer: answer.intent.value),
        )
        self.intent = classified.intent
        return interaction

    async def _agent(self) -> AgentOutcome:
        self.tracker.stage("agent")
        request = self.run_input.request
        facts = {"customer_id": request.customer_id, "channel": request.channel}
        self.outcome = await self.agent.run(request.message, facts, self.intent)
        self.state.facts.update(
            writes_asked=self.outcome.approvals_asked,
            handed_over=self.outcome.action is AgentAction.HAND_OVER,
            answer_confidence=self.outcome.confidence,
            looked_up=any(o.result is not None for o in self.outcome.transcript),
        )
        return self.outcome

    def _guardrails(self) -> Guardrails:
        policy = self.run_input.policy
        return Guardrails(
            max_turns=policy.max_turns,
            approver=Role.SALES_REP,
            approval_expires=policy.approval_expires,
            scope=self._within_the_customers_orders,
        )

    def _within_the_customers_orders(self, request: BaseModel, done: list[ToolOutcome]) -> str:
        """The agent acts only on the orders of the customer who wrote: an order number, or a
        reservation found for one of them."""
        customer = self.run_input.request.customer_id
        order_ref = getattr(request, "order_ref", None)
        if order_ref is not None and order_ref not in self.own_orders:
            return f"{order_ref} is not an order of {customer}"
        reservation_id = getattr(request, "reservation_id", None)
        if reservation_id is None:
            return ""
        lines = _reservations_found(done).get(reservation_id)
        if lines is None:
            return f"reservation {reservation_id} was not found for an order of {customer}"
        sku = getattr(request, "sku", None)
        if sku is not None and sku not in lines:
            return f"{sku} is not a line of reservation {reservation_id}"
        return ""

    async def _answer_by_a_person(self, outcome: AgentOutcome) -> None:
        request, key = self.run_input.request, self.run_input.business_key
        policy = self.run_input.policy
        why = (
            f"The assistant handed it over: {outcome.text}"
            if outcome.action is AgentAction.HAND_OVER
            else f"The assistant's draft (confidence {outcome.confidence:.0%}): {outcome.text}"
        )
        spec = TaskSpec(
            name=ANSWER.replace(" ", "-"),
            kind="review",
            title=f"Answer {request.customer_id} ({key})",
            description=(
                f"{request.customer_id} wrote ({request.channel}):\n{request.message}\n\n{why}\n"
                "Write the reply in the comment, or close the request without a reply."
            ),
            candidate_roles=[Role.SALES_REP],
            form=TaskForm(outcomes=["reply", "close"], comment_required_for=["reply"]),
            context=self.view(),
            due_in=policy.answer_due,
            expire_after=policy.answer_expires,
            expiry_outcome="close",
            requester=self.run_input.requested_by,
            four_eyes=False,  # answering customers is the rep's own work
        )
        result = await self.task(spec, "a sales rep")
        self.reply = result.comment if result.outcome == "reply" else ""
        self.answered_by_person = True

    async def _close(self, interaction: InteractionRecorded, outcome: AgentOutcome) -> None:
        self.tracker.stage("reply")
        request, key = self.run_input.request, self.run_input.business_key
        if self.reply:
            await self.bot_step(
                "reply to the customer",
                BotActivity.NOTIFY,
                Notify(
                    recipient=request.customer_id,
                    channel="chat" if request.channel == "chat" else "email",
                    subject=f"Re: your message ({key})",
                    body=self.reply,
                    ref=key,
                ),
                Notified,
                f"Notify {request.customer_id}: the reply",
            )
        result = _result(outcome, self.reply, by_person=self.answered_by_person)
        await self.bot_step(
            "close the CRM interaction",
            BotActivity.RECORD_OUTCOME,
            RecordOutcome(interaction_id=interaction.interaction_id, outcome=result["outcome"]),
            InteractionRecorded,
            "CRM: record the outcome",
        )
        self.complete(result)


def _reservations_found(done: list[ToolOutcome]) -> dict[int, set[str]]:
    """The reservations the agent found (of the customer's orders), with their lines' SKUs."""
    found = Reservations(
        reservations=[
            reservation
            for outcome in done
            if outcome.call.tool == BotActivity.FIND_RESERVATIONS and outcome.result is not None
            for reservation in Reservations.model_validate(outcome.result).reservations
        ]
    )
    return {r.reservation_id: {line.sku for line in r.lines} for r in found.reservations}


def _result(outcome: AgentOutcome, reply: str, *, by_person: bool) -> dict[str, Any]:
    changes = [
        {"tool": o.call.tool, "arguments": o.call.arguments, "approved_by": o.approved_by}
        for o in outcome.changed()
    ]
    if not reply:
        kind = "closed without a reply"
    elif by_person:
        kind = "answered by a person"
    else:
        kind = "changed" if changes else "answered"
    return {"outcome": kind, "reply": reply, "changes": changes}
