"""Order to fulfilment: a customer's message becomes an order that moves through sales,
finance, inventory and production, with people deciding where their judgement matters.

capture (CRM bot) -> understand (AI; a rep reviews weak extractions) -> check (credit bot,
risk AI) -> decide (large or risky orders: a sales manager, escalating to the finance
controller) -> fulfil in parallel (reserve stock, produce the shortfall, book the forecast)
-> confirm (notify the customer, close the CRM interaction). A rejection, a cancellation or a
failure after reservation undoes what was done (release, cancel production, revert forecast).
"""

from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow

from workflows.contracts import search_attributes as search
from workflows.contracts.ai import (
    ORDER_CORRECTION,
    AIActivity,
    CatalogueItem,
    ClassifyMessageRequest,
    ClassifyMessageResult,
    CustomerHistory,
    ExtractOrderRequest,
    ExtractOrderResult,
    Intent,
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
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderRun
from workflows.contracts.processes import ProcessState, ProcessStatus
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ActorKind,
    EscalationRung,
    FieldType,
    FormField,
    TaskForm,
    TaskSpec,
)
from workflows.steps.process import Process, Rejected, process
from workflows.steps.saga import all_settled

READ_BEFORE_TURNING_AWAY = "read-before-turning-away"  # the patch that reads lines first
CORRECTIONS_TO_LEARN = "corrections-to-learn"  # the patch that records order corrections


@process(ORDER_FULFILLMENT)
class OrderFulfillmentWorkflow(Process[OrderRun]):
    @workflow.init
    def __init__(self, run: OrderRun) -> None:
        super().__init__(run)
        self.lines: list[OrderLine] = list(run.order.lines or [])
        self.prices: dict[str, float] = {}
        self.read_on: date = workflow.now().date()  # the message's "today", for the AI

    def view(self) -> dict[str, Any]:
        return {
            "order": {
                "customer_id": self.run_input.order.customer_id,
                "lines": [line.model_dump() for line in self.lines],
                # The catalogue's price of each line's product, for whoever decides on it.
                "unit_prices": {
                    ln.sku: self.prices[ln.sku] for ln in self.lines if ln.sku in self.prices
                },
                "amount": self._amount() if self.prices else None,
                "priority": self.run_input.order.priority.value,
            }
        }

    def objects(self) -> list[str]:
        order = self.run_input.order
        products = sorted({f"product:{line.sku}" for line in self.lines})
        return [f"order:{self.run_input.business_key}", f"customer:{order.customer_id}", *products]

    @workflow.run
    async def run(self, run: OrderRun) -> ProcessState:
        async with self.conducting():
            interaction = await self._capture()
            await self._understand()
            credit, risk = await self._check()
            await self._decide(credit, risk)
            promised = await self._fulfil()
            await self._confirm(interaction, promised)
        return self.live_state()

    # -- the stages -------------------------------------------------------------------------------

    async def _capture(self) -> InteractionRecorded:
        self.tracker.stage("capture")
        order, key = self.run_input.order, self.run_input.business_key
        text = order.message or ", ".join(f"{line.quantity} x {line.sku}" for line in self.lines)
        return await self.bot_step(
            "record the interaction in the CRM",
            BotActivity.CAPTURE_INTERACTION,
            CaptureInteraction(
                customer_id=order.customer_id,
                channel="email" if order.message else "api",
                text=text,
                ref=key,
            ),
            InteractionRecorded,
            f"CRM: capture {key} for {order.customer_id}",
        )

    async def _understand(self) -> None:
        self.tracker.stage("understand")
        catalogue = await self.bot_step(
            "read the catalogue",
            BotActivity.GET_CATALOGUE,
            CatalogueRequest(),
            Catalogue,
            "ERP: read the catalogue",
        )
        self.prices = {product.sku: product.unit_price for product in catalogue.products}
        message = self.run_input.order.message
        if message is None:
            self.tracker.skipped("understand the message", ActorKind.AI, "structured lines given")
        else:
            await self._read_message(message, catalogue)
        unknown = sorted({line.sku for line in self.lines} - set(self.prices))
        if unknown:
            raise Rejected(f"unknown SKU: {', '.join(unknown)}")

    async def _read_message(self, message: str, catalogue: Catalogue) -> None:
        classified = await self.ai_step(
            "classify the message",
            AIActivity.CLASSIFY_MESSAGE,
            ClassifyMessageRequest(text=message),
            ClassifyMessageResult,
            "AI: what does the customer want?",
            ledger=("classify", lambda answer: answer.intent.value),
        )
        threshold = self.run_input.policy.confidence_threshold
        other = classified.intent is not Intent.ORDER and classified.confidence >= threshold
        # "In stock? If yes, send 30": a question that orders. Runs since this change read the
        # lines before turning a message away (a run that turned one away has ended, and its
        # history, without the marker, replays the old branch).
        if other and not workflow.patched(READ_BEFORE_TURNING_AWAY):
            raise Rejected(f"the message is not an order ({classified.intent.value})")
        extracted = await self.ai_step(
            "extract the order lines",
            AIActivity.EXTRACT_ORDER,
            ExtractOrderRequest(
                text=message,
                catalogue=[CatalogueItem(sku=p.sku, name=p.name) for p in catalogue.products],
                today=self.read_on,
            ),
            ExtractOrderResult,
            "AI: extract the order lines",
            ledger=("extract", lambda answer: f"{len(answer.lines)} lines"),
        )
        try:
            self.lines = [OrderLine(sku=ln.sku, quantity=ln.quantity) for ln in extracted.lines]
        except ValidationError:  # e.g. a phone number read as a quantity: a person reads it
            self.lines = []
        if other and not (self.lines or extracted.unresolved):
            raise Rejected(f"the message is not an order ({classified.intent.value})")
        self.state.facts.update(
            extraction_confidence=extracted.confidence, lines_read=bool(self.lines)
        )
        # Lines in a message that reads as something else: a person says what is meant.
        if other or self.run_input.policy.needs_review(extracted.confidence, bool(self.lines)):
            await self._review_lines(message, extracted)

    async def _review_lines(self, message: str, extracted: ExtractOrderResult) -> None:
        """Weak AI: a sales rep checks the lines and corrects them."""
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
            expire_after=self.run_input.policy.review_expires,
            expiry_outcome="reject",
            four_eyes=False,
        )
        result = await self.task(spec, "a sales rep")
        extracted_lines = [line.model_dump() for line in self.lines]
        if result.outcome != "confirm":
            if not result.expired:  # a person refused the AI's reading (an expiry is nobody's)
                self.tracker.reviewed("extract the order lines", changed=True)
            raise Rejected(f"the sales rep rejected the order ({result.comment or result.outcome})")
        try:
            self.lines = [OrderLine.model_validate(line) for line in result.data["lines"]]
        except (ValidationError, TypeError) as exc:
            raise Rejected(f"the corrected lines are invalid: {exc}") from None
        corrected = [line.model_dump() for line in self.lines]
        changed = corrected != extracted_lines
        self.tracker.reviewed("extract the order lines", changed)
        # A correction is an example the models learn from (`baton ai retrain`). Runs since
        # this change record it (older histories, without the marker, replay without it).
        if changed and workflow.patched(CORRECTIONS_TO_LEARN):
            await self.ledger(
                ORDER_CORRECTION,
                ActorKind.HUMAN,
                ", ".join(result.decided_by) or "sales_rep",
                "corrected",
                None,
                {
                    "text": message,
                    "today": self.read_on.isoformat(),  # the day the AI read it
                    "extracted": extracted_lines,
                    "corrected": corrected,
                },
            )

    async def _check(self) -> tuple[CustomerCredit, ScoreRiskResult]:
        self.tracker.stage("check")
        customer, amount = self.run_input.order.customer_id, self._amount()
        workflow.upsert_search_attributes([search.AMOUNT.value_set(amount)])
        credit = await self.bot_step(
            "check credit",
            BotActivity.GET_CUSTOMER,
            CustomerRequest(customer_id=customer),
            CustomerCredit,
            f"Finance: credit of {customer}",
        )
        risk = await self.ai_step(
            "score the risk",
            AIActivity.SCORE_RISK,
            ScoreRiskRequest(
                credit_limit=credit.credit_limit,
                current_exposure=credit.exposure,
                order_amount=amount,
                history=CustomerHistory(
                    orders_count=credit.orders_count, late_payments=credit.late_payments
                ),
            ),
            ScoreRiskResult,
            f"AI: risk of {amount:,.2f} for {customer}",
            ledger=("risk", lambda answer: answer.level.value),
        )
        return credit, risk

    async def _decide(self, credit: CustomerCredit, risk: ScoreRiskResult) -> None:
        policy, amount = self.run_input.policy, self._amount()
        self.state.facts.update(
            amount=amount, risk=risk.level.value, credit_available=credit.available
        )
        reasons = policy.approval_reasons(amount, risk.level.value, credit.available, risk.reasons)
        if not reasons:
            self.tracker.skipped("approval", ActorKind.HUMAN, "within policy: no approval needed")
            return
        spec = TaskSpec(
            name="approval",
            title=f"Approve order {self.run_input.business_key} ({amount:,.2f})",
            description="Needs approval: " + "; ".join(reasons),
            candidate_roles=[Role.SALES_MANAGER],
            context={
                **self.view(),
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
        result = await self.task(spec, "a sales manager")
        if result.outcome != "approve":
            why = (
                "the approval expired"
                if result.expired
                else f"rejected by {', '.join(result.decided_by)}"
            )
            raise Rejected(f"{why}: {result.comment}".rstrip(": "))

    async def _fulfil(self) -> date:
        """Reserve stock (then produce the shortfall) and book the forecast, in parallel."""
        self.tracker.stage("fulfilment")
        order, key = self.run_input.order, self.run_input.business_key

        async def reserve_and_produce() -> date:
            reservation = await self.bot_step(
                "reserve stock",
                BotActivity.RESERVE_STOCK,
                ReserveStock(order_ref=key, lines=self.lines),
                Reservation,
                f"ERP: reserve {len(self.lines)} lines",
            )
            self.undo_by_bot(
                "release stock",
                BotActivity.RELEASE_STOCK,
                ReleaseStock(reservation_id=reservation.reservation_id),
                Reservation,
                f"ERP: release reservation {reservation.reservation_id}",
            )
            ready = workflow.now().date() + timedelta(days=1)
            short = [line for line in reservation.lines if line.shortfall > 0]
            produced = await all_settled(
                *(self._produce(key, line.sku, line.shortfall) for line in short)
            )
            return max([ready, *(p.completion_date for p in produced)])

        async def forecast() -> None:
            entry = await self.bot_step(
                "book the revenue forecast",
                BotActivity.ADD_FORECAST,
                AddForecast(
                    order_ref=key,
                    customer_id=order.customer_id,
                    amount=self._amount(),
                    period=(order.requested_date or workflow.now().date()).strftime("%Y-%m"),
                ),
                ForecastEntry,
                f"Finance: forecast {self._amount():,.2f}",
            )
            self.undo_by_bot(
                "revert forecast",
                BotActivity.REVERT_FORECAST,
                RevertForecast(entry_id=entry.entry_id),
                ForecastEntry,
                f"Finance: revert forecast entry {entry.entry_id}",
            )

        ready, _ = await all_settled(reserve_and_produce(), forecast())
        assert ready is not None  # the first branch returns the date the goods are ready
        return max(ready, order.requested_date or ready)

    async def _produce(self, key: str, sku: str, quantity: int) -> ProductionOrder:
        production = await self.bot_step(
            f"schedule production of {quantity} x {sku}",
            BotActivity.SCHEDULE_PRODUCTION,
            ScheduleProduction(order_ref=key, sku=sku, quantity=quantity),
            ProductionOrder,
            f"MES: produce {quantity} x {sku}",
            activity="schedule production",
        )
        self.undo_by_bot(
            f"cancel production of {sku}",
            BotActivity.CANCEL_PRODUCTION,
            CancelProduction(production_order_id=production.production_order_id),
            ProductionOrder,
            f"MES: cancel production order {production.production_order_id}",
            activity="cancel production",
        )
        return production

    async def _confirm(self, interaction: InteractionRecorded, promised: date) -> None:
        self.tracker.stage("confirmation")
        key = self.run_input.business_key
        await self._tell_customer(
            f"Order {key} confirmed", f"We will deliver by {promised.isoformat()}."
        )
        await self.bot_step(
            "close the CRM interaction",
            BotActivity.RECORD_OUTCOME,
            RecordOutcome(
                interaction_id=interaction.interaction_id,
                outcome=f"confirmed, delivery by {promised}",
            ),
            InteractionRecorded,
            "CRM: record the outcome",
        )
        self.complete(
            {
                "outcome": "confirmed",
                "promised_date": promised.isoformat(),
                "amount": self._amount(),
            }
        )

    async def on_rejected(self, rejected: Rejected) -> None:
        if rejected.refused_by == "unknown_customer":
            return  # nobody to tell
        await self._tell_customer(f"Order {self.run_input.business_key} declined", rejected.reason)

    async def _tell_customer(self, subject: str, body: str) -> None:
        customer = self.run_input.order.customer_id
        await self.bot_step(
            "notify the customer",
            BotActivity.NOTIFY,
            Notify(recipient=customer, subject=subject, body=body, ref=self.run_input.business_key),
            Notified,
            f"Notify {customer}: {subject}",
        )

    def _amount(self) -> float:
        return round(sum(self.prices.get(ln.sku, 0.0) * ln.quantity for ln in self.lines), 2)
