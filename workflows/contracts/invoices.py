"""Invoice processing: the input, its policy values, the run and the catalogue entry."""

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflows.contracts.departments import Department
from workflows.contracts.processes import (
    COUNTERPARTY_ID,
    DesignedStage,
    ProcessInput,
    ProcessPolicy,
    ProcessRun,
    ProcessType,
)
from workflows.contracts.roles import Role

CREDIT_NOTE_SIGNAL = "credit_note"


class InvoicePolicy(ProcessPolicy):
    """Every limit, tolerance and duration of accounts payable; tests set them to seconds."""

    model_config = ConfigDict(extra="forbid")  # a misspelled setting is an error
    decision_points = ("review invoice", "approval")

    confidence_threshold: float = Field(0.8, ge=0, le=1, description="AI below it asks a clerk")
    price_tolerance_pct: float = Field(2.0, ge=0, description="unit price may differ by this %")
    quantity_tolerance: float = Field(0, ge=0, description="units billed beyond those received")
    first_limit: float = Field(10_000, ge=0, description="up to it no human approves")
    second_limit: float = Field(50_000, ge=0, description="up to it one finance controller")
    payment_terms_days: int = Field(30, ge=0, description="due date when the invoice has none")
    pay_delay: timedelta | None = Field(
        None, description="when set, the wait before paying instead of waiting for the due date"
    )
    credit_note_wait: timedelta = Field(timedelta(days=14), description="then it is rejected")
    credit_note_reminder: timedelta = Field(timedelta(days=3), description="remind the vendor")
    review_expires: timedelta = timedelta(hours=24)
    approval_expires: timedelta = timedelta(days=3)

    def needs_review(self, confidence: float, fields_missing: bool) -> bool:
        """Whether an AP clerk checks the fields the AI extracted."""
        return confidence < self.confidence_threshold or fields_missing

    def needs_approval(self, amount: float) -> bool:
        return amount > self.first_limit

    def people_needed(self, facts: dict[str, Any]) -> set[str]:
        needed = set()
        if "extraction_confidence" in facts and self.needs_review(
            facts["extraction_confidence"], facts.get("fields_missing", False)
        ):
            needed.add("review invoice")
        if "amount" in facts and self.needs_approval(facts["amount"]):
            needed.add("approval")
        return needed


class InvoiceInput(ProcessInput):
    text: str = Field(min_length=1, max_length=20_000, description="the invoice as text")
    vendor_id: str | None = Field(
        None, max_length=50, pattern=COUNTERPARTY_ID, description="hint, e.g. from the mailbox"
    )

    def title(self) -> str:
        return f"Invoice from {self.vendor_id or 'an unknown vendor'}"

    def counterparty(self) -> str:
        return self.vendor_id or ""


class CreditNote(BaseModel):
    """What the vendor sends back: the amount to take off the invoice."""

    number: str = Field(min_length=1, max_length=100)
    amount: float = Field(gt=0)


class InvoiceRun(ProcessRun):
    invoice: InvoiceInput
    policy: InvoicePolicy = Field(default_factory=InvoicePolicy)


INVOICE_PROCESSING = ProcessType(
    name="invoice-processing",
    workflow="InvoiceProcessing",
    description=(
        "A vendor's invoice (text) is paid: AI extracts it, an AP clerk reviews weak "
        "extractions, duplicates are caught, a three-way match checks it against the purchase "
        "order and goods receipts, finance approves by amount, and the payment is scheduled "
        "for the due date and released then."
    ),
    roles=(Role.AP_CLERK, Role.FINANCE_CONTROLLER, Role.ADMIN),
    input_model=InvoiceInput,
    run_model=InvoiceRun,
    input_field="invoice",
    policy_model=InvoicePolicy,
    key_prefix="INV",
    department=Department.ACCOUNTS_PAYABLE,
    design=(
        DesignedStage("extract", ("read the vendors", "extract the invoice")),
        DesignedStage("review-invoice", ("review invoice",)),
        DesignedStage("duplicate check", ("register the invoice",)),
        DesignedStage(
            "three-way match",
            (
                "read the purchase order and goods receipts",
                "match exception",
                "ask the vendor for a credit note",
                "wait for the credit note",
            ),
        ),
        DesignedStage("approval", ("approval",)),
        DesignedStage(
            "payment", ("schedule the payment", "wait for the pay date", "release the payment")
        ),
        DesignedStage("compensating", ("cancel the payment",)),
    ),
    noun="invoice",
    signals={CREDIT_NOTE_SIGNAL: CreditNote},
)
