"""Invoice processing (procure to pay): a vendor's invoice text becomes a released payment.

extract (AI; an AP clerk reviews weak extractions) -> duplicate check (register in finance)
-> three-way match (PO lines and goods receipts; a mismatch is the clerk's exception: accept
the variance, reject, or wait for a credit note) -> approve by amount (nobody, one finance
controller, or two people in sequence) -> pay (schedule, sleep until the pay date, release).
Cancelling before the release cancels the scheduled payment.
"""

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

from workflows import search
from workflows.contracts.ai import (
    AIActivity,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    InvoiceLine,
    VendorRef,
)
from workflows.contracts.bots import (
    BotActivity,
    InvoiceRegistered,
    Notified,
    Notify,
    Payment,
    PaymentRequest,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderRequest,
    RegisterInvoice,
    SchedulePayment,
    Vendors,
    VendorsRequest,
)
from workflows.contracts.invoices import (
    CREDIT_NOTE_SIGNAL,
    PROCESS_TYPE,
    CreditNote,
    InvoiceRun,
)
from workflows.contracts.processes import STATE_QUERY, ProcessState, ProcessStatus
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ActorKind,
    ApprovalRule,
    FieldType,
    FormField,
    TaskForm,
    TaskResult,
    TaskSpec,
)
from workflows.steps.calls import R, call
from workflows.steps.ledger import record_step
from workflows.steps.saga import Saga
from workflows.steps.tracker import Tracker

# The fields a clerk sees pre-filled and may correct when the AI is unsure.
REVIEW_FIELDS: tuple[tuple[str, FieldType], ...] = (
    ("vendor_id", FieldType.STRING),
    ("invoice_number", FieldType.STRING),
    ("invoice_date", FieldType.DATE),
    ("due_date", FieldType.DATE),
    ("po_number", FieldType.STRING),
    ("currency", FieldType.STRING),
    ("total", FieldType.NUMBER),
    ("lines", FieldType.ARRAY),
)
REQUIRED = ("vendor_id", "invoice_number", "currency", "total")


class InvoiceRejected(Exception):
    def __init__(self, reason: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result or {"outcome": "rejected", "reason": reason}


@workflow.defn(name="InvoiceProcessing", failure_exception_types=[ValidationError])
class InvoiceProcessingWorkflow:
    @workflow.init
    def __init__(self, run: InvoiceRun) -> None:
        self.run_input = run
        self.state = ProcessState(
            process_id=workflow.info().workflow_id,
            process_type=PROCESS_TYPE,
            business_key=run.business_key,
        )
        self.tracker = Tracker(self.state)
        self.saga = Saga()
        self.invoice: ExtractInvoiceResult | None = None
        self.credit_note: CreditNote | None = None
        self.variances: list[str] = []
        self.terms: dict[str, int] = {}  # payment terms (days) by vendor
        self.approved_by: list[str] = []

    @workflow.query(name=STATE_QUERY)
    def live_state(self) -> ProcessState:
        if self.invoice is not None:
            self.state.data["invoice"] = self.invoice.model_dump(
                mode="json", exclude={"metrics", "model", "model_version"}
            )
        self.state.data["variances"] = self.variances
        if self.credit_note is not None:
            self.state.data["credit_note"] = self.credit_note.model_dump()
        return self.state

    @workflow.signal(name=CREDIT_NOTE_SIGNAL)
    def receive_credit_note(self, note: CreditNote) -> None:
        self.credit_note = note

    @workflow.run
    async def run(self, run: InvoiceRun) -> ProcessState:
        workflow.upsert_search_attributes(
            [
                search.PROCESS_TYPE.value_set(PROCESS_TYPE),
                search.BUSINESS_KEY.value_set(run.business_key),
                search.REQUESTED_BY.value_set(run.requested_by),
            ]
        )
        try:
            invoice = await self._extract()
            registered = await self._register(invoice)
            await self._match(invoice)
            await self._approve(invoice)
            await self._pay(invoice, registered)
        except InvoiceRejected as rejected:
            await self._finish_rejected(rejected)
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
                self.state.reason, type="InvoiceFailed", non_retryable=True
            ) from failure
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.live_state()

    # -- the stages -------------------------------------------------------------------------------

    async def _extract(self) -> ExtractInvoiceResult:
        self.tracker.stage("extract")
        given = self.run_input.invoice
        known = await self.tracker.step(
            "read the vendors",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.GET_VENDORS, VendorsRequest(), Vendors, "ERP: read the vendors"
            ),
        )
        self.terms = {v.vendor_id: v.payment_terms_days for v in known.vendors}
        # The extractor resolves the vendor by name, so it needs the vendor master.
        vendors = [VendorRef(vendor_id=v.vendor_id, name=v.name) for v in known.vendors]
        extracted = await self.tracker.step(
            "extract the invoice",
            ActorKind.AI,
            lambda: self._activity(
                AIActivity.EXTRACT_INVOICE,
                ExtractInvoiceRequest(text=given.text, vendors=vendors),
                ExtractInvoiceResult,
                "AI: extract the invoice",
                self.run_input.queues.ai,
            ),
        )
        if given.vendor_id and not extracted.vendor_id:
            extracted = extracted.model_copy(update={"vendor_id": given.vendor_id})
        self.invoice = extracted
        await self._ledger(
            "extract",
            ActorKind.AI,
            extracted.model,
            extracted.invoice_number or "unreadable",
            extracted.confidence,
            extracted.model_dump(mode="json"),
        )
        missing = [name for name in REQUIRED if getattr(extracted, name) in (None, "")]
        if extracted.confidence < self.run_input.policy.confidence_threshold or missing:
            self.invoice = await self._review(extracted, missing)
        return self.invoice

    async def _review(
        self, extracted: ExtractInvoiceResult, missing: list[str]
    ) -> ExtractInvoiceResult:
        """Weak AI: an AP clerk sees the fields pre-filled and corrects them."""
        shown = extracted.model_dump(mode="json")
        spec = TaskSpec(
            name="review-invoice",
            kind="review",
            title=f"Check the extraction of invoice {self.run_input.business_key}",
            description=(
                f"The AI was {extracted.confidence:.0%} sure"
                + (f" and found no {', '.join(missing)}" if missing else "")
                + f". The invoice reads:\n{self.run_input.invoice.text}"
            ),
            candidate_roles=[Role.AP_CLERK],
            form=TaskForm(
                outcomes=["confirm", "reject"],
                fields=[
                    FormField(
                        name=name,
                        type=kind,
                        label=name.replace("_", " "),
                        required=name in REQUIRED,
                        default=shown[name],
                    )
                    for name, kind in REVIEW_FIELDS
                ],
                comment_required_for=["reject"],
            ),
            expire_after=self.run_input.policy.review_expires,
            expiry_outcome="reject",
            four_eyes=False,  # reading invoices is the clerk's own work
        )
        result = await self._task(spec, "an AP clerk")
        if result.outcome != "confirm":
            raise InvoiceRejected(f"the AP clerk rejected it ({result.comment or result.outcome})")
        try:
            corrected = ExtractInvoiceResult.model_validate({**shown, **result.data})
        except ValidationError as exc:
            raise InvoiceRejected(f"the corrected invoice is invalid: {exc}") from None
        # Corrections are evaluation data: a later training run compares them with the AI.
        await self._ledger(
            "invoice-correction",
            ActorKind.HUMAN,
            ", ".join(result.decided_by) or "ap_clerk",
            "corrected",
            None,
            {"extracted": shown, "corrected": corrected.model_dump(mode="json")},
        )
        return corrected

    async def _register(self, invoice: ExtractInvoiceResult) -> InvoiceRegistered:
        """Finance refuses a vendor's invoice number twice: that is the duplicate check."""
        self.tracker.stage("duplicate check")
        vendor, number = invoice.vendor_id or "", invoice.invoice_number or ""
        try:
            return await self.tracker.step(
                "register the invoice",
                ActorKind.BOT,
                lambda: self._bot(
                    BotActivity.REGISTER_INVOICE,
                    RegisterInvoice(
                        vendor_id=vendor,
                        invoice_number=number,
                        po_number=invoice.po_number,
                        currency=invoice.currency or "",
                        total=invoice.total or 0.0,
                        due_date=invoice.due_date,
                    ),
                    InvoiceRegistered,
                    f"Finance: register {number} of {vendor}",
                ),
            )
        except ActivityError as failure:
            cause = failure.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "duplicate_invoice"):
                raise
            details = cause.details[0] if cause.details else {}
            original = (details.get("details") or {}).get("invoice_id")
            reason = f"duplicate of invoice {original} ({number} of {vendor})"
            raise InvoiceRejected(
                reason, {"outcome": "duplicate", "reason": reason, "original_invoice_id": original}
            ) from None

    async def _match(self, invoice: ExtractInvoiceResult) -> None:
        self.tracker.stage("three-way match")
        if invoice.po_number:
            po_number = invoice.po_number
            order = await self.tracker.step(
                "read the purchase order and goods receipts",
                ActorKind.BOT,
                lambda: self._bot(
                    BotActivity.GET_PURCHASE_ORDER,
                    PurchaseOrderRequest(po_number=po_number),
                    PurchaseOrder,
                    f"ERP: purchase order {po_number}",
                ),
            )
            self.variances = self._variances(invoice, order)
        else:
            self.variances = ["the invoice names no purchase order"]
        if not self.variances:
            return
        await self._exception(invoice)

    def _variances(self, invoice: ExtractInvoiceResult, order: PurchaseOrder) -> list[str]:
        """Price against the PO, quantity against what was received, each within tolerance."""
        policy = self.run_input.policy
        found: list[str] = []
        if order.vendor_id != invoice.vendor_id:
            found.append(f"{order.po_number} is of vendor {order.vendor_id}")
        if invoice.currency and order.currency != invoice.currency:
            found.append(f"currency {invoice.currency}, the PO is in {order.currency}")
        for line in invoice.lines:
            po_line = _po_line(line, order.lines)
            if po_line is None:
                found.append(f"'{line.description or line.sku}' is not on {order.po_number}")
                continue
            off = abs(line.unit_price - po_line.unit_price) / po_line.unit_price * 100
            if off > policy.price_tolerance_pct:
                found.append(
                    f"{po_line.sku}: price {line.unit_price:.2f}, PO {po_line.unit_price:.2f}"
                )
            if line.quantity > po_line.received + policy.quantity_tolerance:
                found.append(
                    f"{po_line.sku}: billed {line.quantity:g}, received {po_line.received}"
                )
        if not invoice.lines:
            found.append("the invoice has no lines")
        return found

    async def _exception(self, invoice: ExtractInvoiceResult) -> None:
        """A mismatch is the AP clerk's call: accept it, reject it, or ask for a credit note."""
        spec = TaskSpec(
            name="match-exception",
            kind="exception",
            title=f"Invoice {invoice.invoice_number} does not match its purchase order",
            description="; ".join(self.variances),
            candidate_roles=[Role.AP_CLERK],
            form=TaskForm(
                outcomes=["accept_variance", "reject", "request_credit_note"],
                comment_required_for=["reject"],
            ),
            context={"variances": self.variances, "po_number": invoice.po_number},
            expire_after=self.run_input.policy.review_expires,
            expiry_outcome="reject",
            four_eyes=False,
        )
        result = await self._task(spec, "an AP clerk")
        if result.outcome == "accept_variance":
            return
        if result.outcome == "request_credit_note":
            await self._await_credit_note(invoice)
            return
        raise InvoiceRejected(f"the match failed: {'; '.join(self.variances)}")

    async def _await_credit_note(self, invoice: ExtractInvoiceResult) -> None:
        policy = self.run_input.policy
        self.tracker.stage("credit note", ProcessStatus.WAITING, f"vendor {invoice.vendor_id}")
        deadline = workflow.now() + policy.credit_note_wait
        await self._ask_vendor(invoice, "Credit note requested")
        while self.credit_note is None:
            left = deadline - workflow.now()
            if left <= timedelta(0):
                raise InvoiceRejected("no credit note arrived in time")
            try:
                await workflow.wait_condition(
                    lambda: self.credit_note is not None,
                    timeout=min(left, policy.credit_note_reminder),
                )
            except TimeoutError:
                if workflow.now() < deadline:
                    await self._ask_vendor(invoice, "Reminder: credit note requested")
        self.tracker.stage("three-way match")

    async def _ask_vendor(self, invoice: ExtractInvoiceResult, subject: str) -> None:
        vendor = invoice.vendor_id or ""
        await self.tracker.step(
            subject,
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.NOTIFY,
                Notify(
                    recipient=vendor,
                    subject=f"{subject}: invoice {invoice.invoice_number}",
                    body="; ".join(self.variances),
                    ref=self.run_input.business_key,
                ),
                Notified,
                f"Notify {vendor}: {subject}",
            ),
        )

    async def _approve(self, invoice: ExtractInvoiceResult) -> None:
        policy, amount = self.run_input.policy, self._payable(invoice)
        if amount <= policy.first_limit:
            self.tracker.skipped("approval", ActorKind.HUMAN, f"{amount:,.2f}: within the limit")
            return
        controller = [Role.FINANCE_CONTROLLER]
        # Above the second limit two people decide in turn; the task refuses the same one twice.
        rule = (
            ApprovalRule()
            if amount <= policy.second_limit
            else ApprovalRule(kind="sequential", levels=[controller, [*controller, Role.ADMIN]])
        )
        spec = TaskSpec(
            name="approval",
            title=f"Approve invoice {invoice.invoice_number} ({amount:,.2f} {invoice.currency})",
            description=f"{invoice.vendor_name or invoice.vendor_id}, PO {invoice.po_number}",
            candidate_roles=controller,
            context={"invoice": self.live_state().data["invoice"], "variances": self.variances},
            form=TaskForm(outcomes=["approve", "reject"], comment_required_for=["reject"]),
            expire_after=policy.approval_expires,
            expiry_outcome="reject",
            requester=self.run_input.requested_by,
            approval=rule,
        )
        result = await self._task(spec, "finance")
        if result.outcome != "approve":
            why = "the approval expired" if result.expired else "rejected by "
            if not result.expired:
                why += ", ".join(result.decided_by)
            raise InvoiceRejected(f"{why}: {result.comment}".rstrip(": "))
        self.approved_by = result.decided_by

    async def _pay(self, invoice: ExtractInvoiceResult, registered: InvoiceRegistered) -> None:
        policy = self.run_input.policy
        self.tracker.stage("payment")
        today = workflow.now().date()
        days = self.terms.get(invoice.vendor_id or "", policy.payment_terms_days)
        pay_on = invoice.due_date or today + timedelta(days=days)
        amount, currency = self._payable(invoice), invoice.currency or ""
        payment = await self.tracker.step(
            "schedule the payment",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.SCHEDULE_PAYMENT,
                SchedulePayment(
                    invoice_id=registered.invoice_id,
                    amount=amount,
                    currency=currency,
                    pay_on=pay_on,
                ),
                Payment,
                f"Finance: pay {amount:,.2f} {currency} on {pay_on}",
            ),
        )
        self.saga.on_undo(
            "cancel the payment",
            lambda: self._bot(
                BotActivity.CANCEL_PAYMENT,
                PaymentRequest(payment_id=payment.payment_id),
                Payment,
                f"Finance: cancel payment {payment.payment_id}",
            ),
        )
        self.state.data["payment"] = {"payment_id": payment.payment_id, "pay_on": str(pay_on)}
        # A durable timer: the worker may restart any number of times until the pay date.
        wait = policy.pay_delay
        if wait is None:
            due = datetime.combine(pay_on, time(), tzinfo=UTC)
            wait = max(timedelta(0), due - workflow.now())
        self.tracker.stage("payment", ProcessStatus.RUNNING, f"the pay date {pay_on}")
        await workflow.sleep(wait, summary=f"until the pay date {pay_on}")
        released = await self.tracker.step(
            "release the payment",
            ActorKind.BOT,
            lambda: self._bot(
                BotActivity.RELEASE_PAYMENT,
                PaymentRequest(payment_id=payment.payment_id),
                Payment,
                f"Finance: release payment {payment.payment_id}",
            ),
        )
        self.saga = Saga()  # released money is not undone by a cancel
        self.state.result = {
            "outcome": "paid",
            "invoice_id": registered.invoice_id,
            "payment_id": released.payment_id,
            "payment_status": released.status,
            "amount": amount,
            "pay_on": str(pay_on),
            "approved_by": self.approved_by,
        }
        self.tracker.stage("completed", ProcessStatus.COMPLETED)

    async def _cancelled(self) -> None:
        await self._undo("cancelled")
        self.state.reason = "cancelled on request"
        self.tracker.stage("cancelled", ProcessStatus.CANCELLED)

    async def _finish_rejected(self, rejected: InvoiceRejected) -> None:
        await self._undo("rejected")
        self.state.reason = rejected.reason
        self.state.result = rejected.result
        self.tracker.stage("rejected", ProcessStatus.REJECTED)

    async def _undo(self, why: str) -> None:
        if not self.saga.pending:
            return
        self.tracker.stage(f"compensating ({why})")
        self.state.data["compensated"] = await self.saga.compensate()

    # -- helpers ----------------------------------------------------------------------------------

    def _payable(self, invoice: ExtractInvoiceResult) -> float:
        credit = self.credit_note.amount if self.credit_note else 0.0
        return round((invoice.total or 0.0) - credit, 2)

    async def _task(self, spec: TaskSpec, waiting_on: str) -> TaskResult:
        return await self.tracker.task(
            spec, waiting_on, process_type=PROCESS_TYPE, queues=self.run_input.queues
        )

    async def _bot(self, name: BotActivity, request: BaseModel, result: type[R], summary: str) -> R:
        return await self._activity(name, request, result, summary, self.run_input.queues.bots)

    async def _activity(
        self, name: str, request: BaseModel, result: type[R], summary: str, queue: str
    ) -> R:
        return await call(name, request, result, queue=queue, summary=summary)

    async def _ledger(
        self,
        step: str,
        kind: ActorKind,
        actor: str,
        outcome: str,
        confidence: float | None,
        data: dict[str, Any],
    ) -> None:
        await record_step(step, kind, actor, outcome, confidence, data, self.run_input.queues)


def _po_line(line: InvoiceLine, po_lines: list[PurchaseOrderLine]) -> PurchaseOrderLine | None:
    """The PO line an invoice line bills: by SKU, else by the SKU written in its description."""
    for po_line in po_lines:
        if line.sku == po_line.sku or po_line.sku in line.description:
            return po_line
    return None
