"""Invoice processing (procure to pay): a vendor's invoice text becomes a released payment.

extract (AI; an AP clerk reviews weak extractions) -> duplicate check (register in finance)
-> three-way match (PO lines and goods receipts; a mismatch is the clerk's exception: accept
the variance, reject, or wait for a credit note) -> approve by amount (nobody, one finance
controller, or two people in sequence) -> pay (schedule, sleep until the pay date, release).
Cancelling before the release cancels the scheduled payment.
"""

from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts.ai import (
    INVOICE_CORRECTION,
    AIActivity,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    InvoiceCorrection,
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
    INVOICE_PROCESSING,
    CreditNote,
    InvoiceRun,
)
from workflows.contracts.processes import ProcessState, ProcessStatus
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ActorKind,
    ApprovalRule,
    FieldType,
    FormField,
    TaskForm,
    TaskSpec,
)
from workflows.steps.process import Process, Rejected, process
from workflows.steps.saga import Saga

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


@process(INVOICE_PROCESSING)
class InvoiceProcessingWorkflow(Process[InvoiceRun]):
    @workflow.init
    def __init__(self, run: InvoiceRun) -> None:
        super().__init__(run)
        self.invoice: ExtractInvoiceResult | None = None
        self.credit_note: CreditNote | None = None
        self.variances: list[str] = []
        self.terms: dict[str, int] = {}  # payment terms (days) by vendor
        self.approved_by: list[str] = []

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"variances": self.variances}
        if self.invoice is not None:
            view["invoice"] = self.invoice.model_dump(
                mode="json", exclude={"metrics", "model", "model_version"}
            )
        if self.credit_note is not None:
            view["credit_note"] = self.credit_note.model_dump()
        return view

    def objects(self) -> list[str]:
        found = [f"invoice:{self.run_input.business_key}"]
        vendor = (self.invoice and self.invoice.vendor_id) or self.run_input.invoice.vendor_id
        if vendor:
            found.append(f"vendor:{vendor}")
        if self.invoice is not None and self.invoice.po_number:
            found.append(f"purchase_order:{self.invoice.po_number}")
        return found

    @workflow.signal(name=CREDIT_NOTE_SIGNAL)
    def receive_credit_note(self, note: CreditNote) -> None:
        self.credit_note = note

    @workflow.run
    async def run(self, run: InvoiceRun) -> ProcessState:
        async with self.conducting():
            invoice = await self._extract()
            registered = await self._register(invoice)
            await self._match(invoice)
            await self._approve(invoice)
            await self._pay(invoice, registered)
        return self.live_state()

    # -- the stages -------------------------------------------------------------------------------

    async def _extract(self) -> ExtractInvoiceResult:
        self.tracker.stage("extract")
        given = self.run_input.invoice
        known = await self.bot_step(
            "read the vendors",
            BotActivity.GET_VENDORS,
            VendorsRequest(),
            Vendors,
            "ERP: read the vendors",
        )
        self.terms = {v.vendor_id: v.payment_terms_days for v in known.vendors}
        # The extractor resolves the vendor by name, so it needs the vendor master.
        vendors = [VendorRef(vendor_id=v.vendor_id, name=v.name) for v in known.vendors]
        extracted = await self.ai_step(
            "extract the invoice",
            AIActivity.EXTRACT_INVOICE,
            ExtractInvoiceRequest(text=given.text, vendors=vendors),
            ExtractInvoiceResult,
            "AI: extract the invoice",
            ledger=("extract", lambda answer: answer.invoice_number or "unreadable"),
        )
        if given.vendor_id and not extracted.vendor_id:
            extracted = extracted.model_copy(update={"vendor_id": given.vendor_id})
        self.invoice = extracted
        missing = [name for name in REQUIRED if getattr(extracted, name) in (None, "")]
        self.state.facts.update(
            extraction_confidence=extracted.confidence, fields_missing=bool(missing)
        )
        if self.run_input.policy.needs_review(extracted.confidence, bool(missing)):
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
        result = await self.task(spec, "an AP clerk")
        if result.outcome != "confirm":
            if not result.expired:  # a person refused the AI's reading (an expiry is nobody's)
                self.tracker.reviewed("extract the invoice", changed=True)
            raise Rejected(f"the AP clerk rejected it ({result.comment or result.outcome})")
        try:
            corrected = ExtractInvoiceResult.model_validate({**shown, **result.data})
        except ValidationError as exc:
            raise Rejected(f"the corrected invoice is invalid: {exc}") from None
        self.tracker.reviewed("extract the invoice", corrected.model_dump(mode="json") != shown)
        # Corrections are examples: `baton ai retrain` learns from them.
        await self.ledger(
            INVOICE_CORRECTION,
            ActorKind.HUMAN,
            ", ".join(result.decided_by) or "ap_clerk",
            "corrected",
            None,
            InvoiceCorrection(
                text=self.run_input.invoice.text, extracted=shown, corrected=corrected
            ).model_dump(mode="json"),
        )
        return corrected

    async def _register(self, invoice: ExtractInvoiceResult) -> InvoiceRegistered:
        """Finance refuses a vendor's invoice number twice: that is the duplicate check."""
        self.tracker.stage("duplicate check")
        vendor, number = invoice.vendor_id or "", invoice.invoice_number or ""
        try:
            return await self.bot_step(
                "register the invoice",
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
            )
        except ActivityError as failure:
            cause = failure.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "duplicate_invoice"):
                raise
            details = cause.details[0] if cause.details else {}
            original = (details.get("details") or {}).get("invoice_id")
            reason = f"duplicate of invoice {original} ({number} of {vendor})"
            raise Rejected(
                reason, {"outcome": "duplicate", "reason": reason, "original_invoice_id": original}
            ) from None

    async def _match(self, invoice: ExtractInvoiceResult) -> None:
        self.tracker.stage("three-way match")
        if invoice.po_number:
            po_number = invoice.po_number
            order = await self.bot_step(
                "read the purchase order and goods receipts",
                BotActivity.GET_PURCHASE_ORDER,
                PurchaseOrderRequest(po_number=po_number),
                PurchaseOrder,
                f"ERP: purchase order {po_number}",
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
        result = await self.task(spec, "an AP clerk")
        if result.outcome == "accept_variance":
            return
        if result.outcome == "request_credit_note":
            await self._await_credit_note(invoice)
            return
        raise Rejected(f"the match failed: {'; '.join(self.variances)}")

    async def _await_credit_note(self, invoice: ExtractInvoiceResult) -> None:
        """Asks the vendor for a credit note and waits for it until the deadline, reminding
        them meanwhile; each stretch of waiting is a step of its own, between the reminders."""
        policy = self.run_input.policy
        self.tracker.stage("credit note", ProcessStatus.WAITING, f"vendor {invoice.vendor_id}")
        deadline = workflow.now() + policy.credit_note_wait
        await self._ask_vendor(invoice, "Credit note requested")
        await self.record()  # the wait may take days
        while self.credit_note is None:
            left = deadline - workflow.now()
            if left <= timedelta(0):
                raise Rejected("no credit note arrived in time")
            arrived = await self.tracker.step(
                "wait for the credit note",
                ActorKind.SYSTEM,
                partial(self._credit_note_within, min(left, policy.credit_note_reminder)),
                by=f"vendor {invoice.vendor_id}",
            )
            if not arrived and workflow.now() < deadline:
                await self._ask_vendor(invoice, "Reminder: credit note requested")
        self.tracker.stage("three-way match")

    async def _credit_note_within(self, wait: timedelta) -> bool:
        """Whether the credit note arrived within `wait`."""
        try:
            await workflow.wait_condition(lambda: self.credit_note is not None, timeout=wait)
        except TimeoutError:
            return False
        return True

    async def _ask_vendor(self, invoice: ExtractInvoiceResult, subject: str) -> None:
        vendor = invoice.vendor_id or ""
        await self.bot_step(
            subject,
            BotActivity.NOTIFY,
            Notify(
                recipient=vendor,
                subject=f"{subject}: invoice {invoice.invoice_number}",
                body="; ".join(self.variances),
                ref=self.run_input.business_key,
            ),
            Notified,
            f"Notify {vendor}: {subject}",
            activity="ask the vendor for a credit note",
        )

    async def _approve(self, invoice: ExtractInvoiceResult) -> None:
        policy, amount = self.run_input.policy, self._payable(invoice)
        self.state.facts.update(amount=amount, variances=len(self.variances))
        if not policy.needs_approval(amount):
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
            context={"invoice": self.view()["invoice"], "variances": self.variances},
            form=TaskForm(outcomes=["approve", "reject"], comment_required_for=["reject"]),
            expire_after=policy.approval_expires,
            expiry_outcome="reject",
            requester=self.run_input.requested_by,
            approval=rule,
        )
        result = await self.task(spec, "finance")
        if result.outcome != "approve":
            why = "the approval expired" if result.expired else "rejected by "
            if not result.expired:
                why += ", ".join(result.decided_by)
            raise Rejected(f"{why}: {result.comment}".rstrip(": "))
        self.approved_by = result.decided_by

    async def _pay(self, invoice: ExtractInvoiceResult, registered: InvoiceRegistered) -> None:
        policy = self.run_input.policy
        self.tracker.stage("payment")
        today = workflow.now().date()
        days = self.terms.get(invoice.vendor_id or "", policy.payment_terms_days)
        pay_on = invoice.due_date or today + timedelta(days=days)
        amount, currency = self._payable(invoice), invoice.currency or ""
        payment = await self.bot_step(
            "schedule the payment",
            BotActivity.SCHEDULE_PAYMENT,
            SchedulePayment(
                invoice_id=registered.invoice_id, amount=amount, currency=currency, pay_on=pay_on
            ),
            Payment,
            f"Finance: pay {amount:,.2f} {currency} on {pay_on}",
        )
        self.undo_by_bot(
            "cancel the payment",
            BotActivity.CANCEL_PAYMENT,
            PaymentRequest(payment_id=payment.payment_id),
            Payment,
            f"Finance: cancel payment {payment.payment_id}",
        )
        self.state.data["payment"] = {"payment_id": payment.payment_id, "pay_on": str(pay_on)}
        # A durable timer: the worker may restart any number of times until the pay date.
        wait = policy.pay_delay
        if wait is None:
            due = datetime.combine(pay_on, time(), tzinfo=UTC)
            wait = max(timedelta(0), due - workflow.now())
        self.tracker.stage("payment", ProcessStatus.RUNNING, f"the pay date {pay_on}")
        await self.record()  # the pay date may be weeks away
        await self.tracker.step(
            "wait for the pay date",
            ActorKind.SYSTEM,
            lambda: workflow.sleep(wait, summary=f"until the pay date {pay_on}"),
            by="a durable timer",
        )
        released = await self.bot_step(
            "release the payment",
            BotActivity.RELEASE_PAYMENT,
            PaymentRequest(payment_id=payment.payment_id),
            Payment,
            f"Finance: release payment {payment.payment_id}",
        )
        self.saga = Saga()  # released money is not undone by a cancel
        self.complete(
            {
                "outcome": "paid",
                "invoice_id": registered.invoice_id,
                "payment_id": released.payment_id,
                "payment_status": released.status,
                "amount": amount,
                "pay_on": str(pay_on),
                "approved_by": self.approved_by,
            }
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _payable(self, invoice: ExtractInvoiceResult) -> float:
        credit = self.credit_note.amount if self.credit_note else 0.0
        return round((invoice.total or 0.0) - credit, 2)


def _po_line(line: InvoiceLine, po_lines: list[PurchaseOrderLine]) -> PurchaseOrderLine | None:
    """The PO line an invoice line bills: by SKU, else by the SKU written in its description."""
    for po_line in po_lines:
        if line.sku == po_line.sku or po_line.sku in line.description:
            return po_line
    return None
