"""Order to fulfilment: a customer's message becomes an order that moves through sales,
finance, inventory and production, with people deciding where their judgement matters.

capture (CRM bot) -> understand (AI; a rep reviews weak extractions) -> check (credit bot,
risk AI) -> decide (large or risky orders: a sales manager, escalating to the finance
controller) -> fulfil in parallel (reserve stock, produce the shortfall, book the forecast)
-> confirm (notify the customer, close the CRM interaction). A rejection, a cancellation or a
failure after reservation undoes what was done (release, cancel production, revert forecast).
"""

import asyncio
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import Priority as TemporalPriority
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

from workflows import search
from workflows.contracts.ai import (
    AIActivity,
    CatalogueItem,
    ClassifyMessageRequest,
    ClassifyMessageResult,
    CustomerHistory,
    ExtractOrderRequest,
    ExtractOrderResult,
    Intent,
    RiskLevel,
    ScoreRiskRequest,
    ScoreRiskResult,
)
from workflows.contracts.bots import (
    AddForecast,
    BotActivity,
    CancelProduction,
    CaptureInteraction,
    Catalogue,
    CatalogueRequest,
    CustomerCredit,
    CustomerRequest,
    ForecastEntry,
    InteractionRecorded,
    Notified,
    Notify,
    OrderLine,
    ProductionOrder,
    RecordOutcome,
    ReleaseStock,
    Reservation,
    ReserveStock,
    RevertForecast,
    ScheduleProduction,
)
from workflows.contracts.orders import PROCESS_TYPE, OrderRun, Priority
from workflows.contracts.processes import (
    STATE_QUERY,
    ProcessState,
    ProcessStatus,
)
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ActorKind,
    EscalationRung,
    FieldType,
    FormField,
    TaskForm,
    TaskResult,
    TaskSpec,
)
from workflows.steps.calls import R, call
from workflows.steps.ledger import record_step
from workflows.steps.saga import Saga, all_settled
from workflows.steps.tracker import Tracker


class OrderRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@workflow.defn(name="OrderFulfillment", failure_exception_types=[ValidationError])
class OrderFulfillmentWorkflow:
    @workflow.init
    def __init__(self, run: OrderRun) -> None:
        self.run_input = run
        self.state = ProcessState(
            process_id=workflow.info().workflow_id,
            process_type=PROCESS_TYPE,
            business_key=run.business_key,
        )
        self.tracker = Tracker(self.state)
        self.saga = Saga()
        self.lines: list[OrderLine] = list(run.order.lines or [])
        self.prices: dict[str, float] = {}
        # Urgent orders' bot and AI steps go first when the queues back up.
        self.priority = TemporalPriority(
            priority_key=1 if run.order.priority is Priority.URGENT else 3
        )

    @workflow.query(name=STATE_QUERY)
    def live_state(self) -> ProcessState:
        state = self.state.model_copy(deep=True)  # queries only read
        state.data["order"] = {
            "customer_id": self.run_input.order.customer_id,
            "lines": [line.model_dump() for line in self.lines],
            "amount": self._amount() if self.prices else None,
            "priority": self.run_input.order.priority.value,
        }
        return state

    @workflow.run
    async def run(self, run: OrderRun) -> ProcessState:
        order = run.order
        workflow.upsert_search_attributes(
            [
                search.PROCESS_TYPE.value_set(PROCESS_TYPE),
                search.BUSINESS_KEY.value_set(run.business_key),
                search.CUSTOMER.value_set(order.customer_id),
                search.REQUESTED_BY.value_set(run.requested_by),
            ]
        )
        try:
            interaction = await self._capture()
            await self._understand()
            credit, risk = await self._check()
            await self._decide(credit, risk)
            promised = await self._fulfil()
            await self._confirm(interaction, promised)
        except OrderRejected as rejected:
            await self._finish_rejected(rejected.reason)
        except asyncio.CancelledError:
            await self._cancelled()
            raise
        except (ActivityError, ChildWorkflowError) as failure:
            if is_cancelled_exception(failure):  # a step or task cut short by the cancel
                await self._cancelled()
                raise asyncio.CancelledError from failure
            await self._undo("failed")
            self.state.reason = f"a step failed: {failure.cause or failure}"
            self.tracker.stage("failed", ProcessStatus.FAILED)
            raise ApplicationError(
                self.state.reason, type="OrderFailed", non_retryable=True
            ) from failure
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.live_state()

    # -- the stages -------------------------------------------------------------------------------

    async def _capture(self) -> InteractionRecorded:
        self.tracker.stage("capture")
        order = self.run_input.order
        text = order.message or ", ".join(f"{line.quantity} x {line.sku}" for line in self.lines)
        return await self.tracker.step(
            "record the interaction in the CRM",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.CAPTURE_INTERACTION,
                CaptureInteraction(
                    customer_id=order.customer_id,
                    channel="email" if order.message else "api",
                    text=text,
                    ref=self.run_input.business_key,
                ),
                InteractionRecorded,
                f"CRM: capture {self.run_input.business_key} for {order.customer_id}",
            ),
        )

    async def _understand(self) -> None:
        self.tracker.stage("understand")
        catalogue = await self.tracker.step(
            "read the catalogue",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.GET_CATALOGUE, CatalogueRequest(), Catalogue, "ERP: read the catalogue"
            ),
        )
        self.prices = {product.sku: product.unit_price for product in catalogue.products}
        message = self.run_input.order.message
        if message is None:
            self.tracker.skipped("understand the message", ActorKind.AI, "structured lines given")
        else:
            await self._read_message(message, catalogue)
        unknown = sorted({line.sku for line in self.lines} - set(self.prices))
        if unknown:
            raise OrderRejected(f"unknown SKU: {', '.join(unknown)}")

    async def _read_message(self, message: str, catalogue: Catalogue) -> None:
        classified = await self.tracker.step(
            "classify the message",
            ActorKind.AI,
            lambda: self._ai(
                AIActivity.CLASSIFY_MESSAGE,
                ClassifyMessageRequest(text=message),
                ClassifyMessageResult,
                "AI: what does the customer want?",
            ),
        )
        await self._ledger(
            "classify",
            ActorKind.AI,
            classified.model,
            classified.intent.value,
            classified.confidence,
            classified.model_dump(mode="json"),
        )
        threshold = self.run_input.policy.confidence_threshold
        if classified.intent is not Intent.ORDER and classified.confidence >= threshold:
            raise OrderRejected(f"the message is not an order ({classified.intent.value})")
        extracted = await self.tracker.step(
            "extract the order lines",
            ActorKind.AI,
            lambda: self._ai(
                AIActivity.EXTRACT_ORDER,
                ExtractOrderRequest(
                    text=message,
                    catalogue=[CatalogueItem(sku=p.sku, name=p.name) for p in catalogue.products],
                    today=workflow.now().date(),
                ),
                ExtractOrderResult,
                "AI: extract the order lines",
            ),
        )
        await self._ledger(
            "extract",
            ActorKind.AI,
            extracted.model,
            f"{len(extracted.lines)} lines",
            extracted.confidence,
            extracted.model_dump(mode="json"),
        )
        self.lines = [OrderLine(sku=line.sku, quantity=line.quantity) for line in extracted.lines]
        if extracted.confidence < threshold or not self.lines:
            await self._review_lines(message, extracted)

    async def _review_lines(self, message: str, extracted: ExtractOrderResult) -> None:
        """Weak AI: a sales rep checks the lines and corrects them."""
        policy = self.run_input.policy
        spec = TaskSpec(
            name="review-lines",
            kind="review",
            title=f"Check the lines of order {self.run_input.business_key}",
            description=(
                f"The AI was {extracted.confidence:.0%} sure. The customer wrote:\n{message}"
            ),
            candidate_roles=[Role.SALES_REP],
            form=TaskForm(
                outcomes=["confirm", "reject"],
                fields=[
                    FormField(
                        name="lines",
                        type=FieldType.ARRAY,
                        label="Order lines (sku, quantity)",
                        required=True,
                        default=[line.model_dump() for line in self.lines],
                    )
                ],
            ),
            context={"unresolved": extracted.unresolved},
            expire_after=policy.review_expires,
            expiry_outcome="reject",
            four_eyes=False,
        )
        result = await self._task(spec, "a sales rep")
        if result.outcome != "confirm":
            raise OrderRejected(
                f"the sales rep rejected the order ({result.comment or result.outcome})"
            )
        try:
            self.lines = [OrderLine.model_validate(line) for line in result.data["lines"]]
        except (ValidationError, TypeError) as exc:
            raise OrderRejected(f"the corrected lines are invalid: {exc}") from None

    async def _check(self) -> tuple[CustomerCredit, ScoreRiskResult]:
        self.tracker.stage("check")
        order = self.run_input.order
        workflow.upsert_search_attributes([search.AMOUNT.value_set(self._amount())])
        credit = await self.tracker.step(
            "check credit",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.GET_CUSTOMER,
                CustomerRequest(customer_id=order.customer_id),
                CustomerCredit,
                f"Finance: credit of {order.customer_id}",
            ),
        )
        risk = await self.tracker.step(
            "score the risk",
            ActorKind.AI,
            lambda: self._ai(
                AIActivity.SCORE_RISK,
                ScoreRiskRequest(
                    credit_limit=credit.credit_limit,
                    current_exposure=credit.exposure,
                    order_amount=self._amount(),
                    history=CustomerHistory(
                        orders_count=credit.orders_count, late_payments=credit.late_payments
                    ),
                ),
                ScoreRiskResult,
                f"AI: risk of {self._amount():,.2f} for {order.customer_id}",
            ),
        )
        await self._ledger(
            "risk",
            ActorKind.AI,
            risk.model,
            risk.level.value,
            risk.confidence,
            risk.model_dump(mode="json"),
        )
        return credit, risk

    async def _decide(self, credit: CustomerCredit, risk: ScoreRiskResult) -> None:
        policy, amount = self.run_input.policy, self._amount()
        reasons = []
        if amount > policy.approval_threshold:
            reasons.append(f"amount {amount:,.2f} is over {policy.approval_threshold:,.2f}")
        if risk.level is RiskLevel.HIGH:
            reasons.append(f"risk is high ({', '.join(risk.reasons) or 'AI'})")
        if amount > credit.available:
            reasons.append(f"credit available is {credit.available:,.2f}")
        if not reasons:
            self.tracker.skipped("approval", ActorKind.HUMAN, "within policy: no approval needed")
            return
        spec = TaskSpec(
            name="approval",
            title=f"Approve order {self.run_input.business_key} ({amount:,.2f})",
            description="Needs approval: " + "; ".join(reasons),
            candidate_roles=[Role.SALES_MANAGER],
            context={
                "order": self.live_state().data["order"],
                "risk": risk.level.value,
                "credit_available": credit.available,
            },
            form=TaskForm(outcomes=["approve", "reject"], comment_required_for=["reject"]),
            remind_every=policy.remind_every,
            escalation=[EscalationRung(after=policy.approval_due, roles=[Role.FINANCE_CONTROLLER])],
            expire_after=policy.approval_expires,
            expiry_outcome="reject",
            requester=self.run_input.requested_by,
        )
        self.tracker.stage("approval", ProcessStatus.WAITING, "a sales manager")
        result = await self._task(spec, "a sales manager")
        if result.outcome != "approve":
            why = (
                "the approval expired"
                if result.expired
                else f"rejected by {', '.join(result.decided_by)}"
            )
            raise OrderRejected(f"{why}: {result.comment}".rstrip(": "))

    async def _fulfil(self) -> date:
        """Reserve stock (then produce the shortfall) and book the forecast, in parallel."""
        self.tracker.stage("fulfilment")
        order, key = self.run_input.order, self.run_input.business_key

        async def reserve_and_produce() -> date:
            reservation = await self.tracker.step(
                "reserve stock",
                ActorKind.BOT,
                lambda: self._bot(
                    BotActivity.RESERVE_STOCK,
                    ReserveStock(order_ref=key, lines=self.lines),
                    Reservation,
                    f"ERP: reserve {len(self.lines)} lines",
                ),
            )
            self.saga.on_undo(
                "release stock",
                lambda: self._bot(
                    BotActivity.RELEASE_STOCK,
                    ReleaseStock(reservation_id=reservation.reservation_id),
                    Reservation,
                    f"ERP: release reservation {reservation.reservation_id}",
                ),
            )
            ready = workflow.now().date() + timedelta(days=1)
            short = [line for line in reservation.lines if line.shortfall > 0]
            produced = await all_settled(
                *(self._produce(key, line.sku, line.shortfall) for line in short)
            )
            return max([ready, *(p.completion_date for p in produced)])

        async def forecast() -> None:
            entry = await self.tracker.step(
                "book the revenue forecast",
                ActorKind.BOT,
                lambda: self._bot(
                    BotActivity.ADD_FORECAST,
                    AddForecast(
                        order_ref=key,
                        customer_id=order.customer_id,
                        amount=self._amount(),
                        period=(order.requested_date or workflow.now().date()).strftime("%Y-%m"),
                    ),
                    ForecastEntry,
                    f"Finance: forecast {self._amount():,.2f}",
                ),
            )
            self.saga.on_undo(
                "revert forecast",
                lambda: self._bot(
                    BotActivity.REVERT_FORECAST,
                    RevertForecast(entry_id=entry.entry_id),
                    ForecastEntry,
                    f"Finance: revert forecast entry {entry.entry_id}",
                ),
            )

        ready, _ = await all_settled(reserve_and_produce(), forecast())
        assert ready is not None  # the first branch returns the date the goods are ready
        return max(ready, order.requested_date or ready)

    async def _produce(self, key: str, sku: str, quantity: int) -> ProductionOrder:
        production = await self.tracker.step(
            f"schedule production of {quantity} x {sku}",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.SCHEDULE_PRODUCTION,
                ScheduleProduction(order_ref=key, sku=sku, quantity=quantity),
                ProductionOrder,
                f"MES: produce {quantity} x {sku}",
            ),
        )
        self.saga.on_undo(
            f"cancel production of {sku}",
            lambda: self._bot(
                BotActivity.CANCEL_PRODUCTION,
                CancelProduction(production_order_id=production.production_order_id),
                ProductionOrder,
                f"MES: cancel production order {production.production_order_id}",
            ),
        )
        return production

    async def _confirm(self, interaction: InteractionRecorded, promised: date) -> None:
        self.tracker.stage("confirmation")
        key = self.run_input.business_key
        await self._tell_customer(
            f"Order {key} confirmed", f"We will deliver by {promised.isoformat()}."
        )
        await self.tracker.step(
            "close the CRM interaction",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.RECORD_OUTCOME,
                RecordOutcome(
                    interaction_id=interaction.interaction_id,
                    outcome=f"confirmed, delivery by {promised}",
                ),
                InteractionRecorded,
                "CRM: record the outcome",
            ),
        )
        self.state.result = {
            "outcome": "confirmed",
            "promised_date": promised.isoformat(),
            "amount": self._amount(),
        }
        self.tracker.stage("completed", ProcessStatus.COMPLETED)

    async def _cancelled(self) -> None:
        await self._undo("cancelled")
        self.state.reason = "cancelled on request"
        self.tracker.stage("cancelled", ProcessStatus.CANCELLED)

    async def _finish_rejected(self, reason: str) -> None:
        await self._undo("rejected")
        await self._tell_customer(f"Order {self.run_input.business_key} declined", reason)
        self.state.reason = reason
        self.state.result = {"outcome": "rejected", "reason": reason}
        self.tracker.stage("rejected", ProcessStatus.REJECTED)

    async def _undo(self, why: str) -> None:
        if not self.saga.pending:
            return
        self.tracker.stage(f"compensating ({why})")
        self.state.data["compensated"] = await self.saga.compensate()

    async def _tell_customer(self, subject: str, body: str) -> None:
        order = self.run_input.order
        await self.tracker.step(
            "notify the customer",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.NOTIFY,
                Notify(
                    recipient=order.customer_id,
                    subject=subject,
                    body=body,
                    ref=self.run_input.business_key,
                ),
                Notified,
                f"Notify {order.customer_id}: {subject}",
            ),
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _amount(self) -> float:
        return round(sum(self.prices.get(ln.sku, 0.0) * ln.quantity for ln in self.lines), 2)

    async def _task(self, spec: TaskSpec, waiting_on: str) -> TaskResult:
        return await self.tracker.task(
            spec, waiting_on, process_type=PROCESS_TYPE, queues=self.run_input.queues
        )

    async def _bot(self, name: BotActivity, request: BaseModel, result: type[R], summary: str) -> R:
        return await self._activity(name, request, result, summary, self.run_input.queues.bots)

    async def _ai(self, name: AIActivity, request: BaseModel, result: type[R], summary: str) -> R:
        return await self._activity(name, request, result, summary, self.run_input.queues.ai)

    async def _activity(
        self, name: str, request: BaseModel, result: type[R], summary: str, queue: str
    ) -> R:
        return await call(
            name, request, result, queue=queue, summary=summary, priority=self.priority
        )

    async def _ledger(
        self,
        step: str,
        kind: ActorKind,
        actor: str,
        outcome: str,
        confidence: float | None,
        data: dict[str, Any],
    ) -> None:
        """AI decisions go to the ledger too: what decided, how sure it was."""
        await record_step(step, kind, actor, outcome, confidence, data, self.run_input.queues)
