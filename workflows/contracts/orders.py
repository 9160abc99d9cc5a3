"""Order to fulfilment: the input, its policy values, the run and the catalogue entry."""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from workflows.contracts.bots import OrderLine
from workflows.contracts.departments import Department
from workflows.contracts.priority import Priority
from workflows.contracts.processes import (
    COUNTERPARTY_ID,
    DesignedStage,
    ProcessInput,
    ProcessPolicy,
    ProcessRun,
    ProcessType,
)
from workflows.contracts.roles import Role


class OrderPolicy(ProcessPolicy):
    """Every threshold and duration of the process; tests set them to seconds."""

    model_config = ConfigDict(extra="forbid")  # a misspelled setting is an error
    decision_points = ("review lines", "approval")

    approval_threshold: float = Field(10_000, ge=0, description="orders above it need approval")
    confidence_threshold: float = Field(0.75, ge=0, le=1, description="AI below it asks a rep")
    approval_due: timedelta = Field(timedelta(hours=4), description="then it escalates")
    approval_expires: timedelta = Field(timedelta(hours=24), description="then it is rejected")
    remind_every: timedelta | None = timedelta(hours=1)
    review_expires: timedelta = timedelta(hours=24)

    def needs_review(self, confidence: float, lines_read: bool) -> bool:
        """Whether a sales rep checks the lines the AI extracted."""
        return confidence < self.confidence_threshold or not lines_read

    def approval_reasons(
        self, amount: float, risk: str, credit_available: float, why_risky: Sequence[str] = ()
    ) -> list[str]:
        """Why a sales manager must approve the order; none: it goes straight through."""
        reasons = []
        if amount > self.approval_threshold:
            reasons.append(f"amount {amount:,.2f} is over {self.approval_threshold:,.2f}")
        if risk == "high":
            reasons.append(f"risk is high ({', '.join(why_risky) or 'AI'})")
        if amount > credit_available:
            reasons.append(f"credit available is {credit_available:,.2f}")
        return reasons

    def people_needed(self, facts: dict[str, Any]) -> set[str]:
        needed = set()
        if "extraction_confidence" in facts and self.needs_review(
            facts["extraction_confidence"], facts.get("lines_read", True)
        ):
            needed.add("review lines")
        if "amount" in facts and self.approval_reasons(
            facts["amount"], facts.get("risk", ""), facts.get("credit_available", float("inf"))
        ):
            needed.add("approval")
        return needed


class OrderInput(ProcessInput):
    customer_id: str = Field(
        min_length=1, max_length=50, pattern=COUNTERPARTY_ID, examples=["C-1001"]
    )
    message: str | None = Field(None, max_length=20_000, description="free text to understand")
    lines: list[OrderLine] | None = Field(None, min_length=1, max_length=200)
    requested_date: date | None = None
    priority: Priority = Priority.NORMAL

    @model_validator(mode="after")
    def _message_or_lines(self) -> "OrderInput":
        if (self.message is None) == (self.lines is None):
            raise ValueError("give either message (free text) or lines, not both and not neither")
        if self.message is not None and not self.message.strip():
            raise ValueError("message is empty")
        return self

    def title(self) -> str:
        what = f"{len(self.lines)} lines" if self.lines else "a free-text message"
        return f"Order from {self.customer_id}: {what} ({self.priority.value})"

    def counterparty(self) -> str:
        return self.customer_id

    def urgency(self) -> Priority:
        return self.priority


class OrderRun(ProcessRun):
    order: OrderInput
    policy: OrderPolicy = Field(default_factory=OrderPolicy)


ORDER_FULFILLMENT = ProcessType(
    name="order-fulfillment",
    workflow="OrderFulfillment",
    description=(
        "A customer's message or order lines become an order: AI reads it, finance checks "
        "credit and risk, a sales manager approves large or risky orders, then stock is "
        "reserved, production scheduled and the forecast booked in parallel, and the "
        "customer is told the delivery date."
    ),
    roles=(Role.SALES_REP, Role.SALES_MANAGER, Role.FINANCE_CONTROLLER),
    input_model=OrderInput,
    run_model=OrderRun,
    input_field="order",
    policy_model=OrderPolicy,
    key_prefix="SO",
    department=Department.SALES,
    design=(
        DesignedStage("capture", ("record the interaction in the CRM",)),
        DesignedStage(
            "understand", ("read the catalogue", "classify the message", "extract the order lines")
        ),
        DesignedStage("review-lines", ("review lines",)),
        DesignedStage("check", ("check credit", "score the risk")),
        DesignedStage("approval", ("approval",)),
        DesignedStage(
            "fulfilment", ("reserve stock", "schedule production", "book the revenue forecast")
        ),
        DesignedStage("confirmation", ("notify the customer", "close the CRM interaction")),
        # Undoing, then telling the customer why.
        DesignedStage(
            "compensating",
            ("release stock", "cancel production", "revert forecast", "notify the customer"),
        ),
    ),
    noun="order",
)
