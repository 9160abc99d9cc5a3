"""Customer service: the input, its policy values, the run and the catalogue entry.

A customer's message that is not an order ("where is my order SO-...", "please change the
quantity to 30", "cancel it") goes to an agent that looks things up in the business systems
with bot tools: it answers from what they say, changes an order with a sales rep's approval,
or hands the request to a sales rep with what it gathered.
"""

from datetime import timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from workflows.contracts.agent import APPROVE, DECIDE
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

ANSWER = "answer the customer"  # a person answers what the agent handed over or was unsure of


class ServicePolicy(ProcessPolicy):
    """The agent's guardrails and the people's deadlines; tests set them to seconds."""

    model_config = ConfigDict(extra="forbid")  # a misspelled setting is an error
    decision_points = (APPROVE, ANSWER)

    max_turns: int = Field(6, ge=1, le=20, description="turns before the agent hands over")
    confidence_threshold: float = Field(
        0.75, ge=0, le=1, description="a reply the agent is less sure of goes to a person"
    )
    approval_expires: timedelta = Field(
        timedelta(hours=8), description="an unapproved change is declined then"
    )
    answer_due: timedelta = Field(timedelta(hours=4), description="then the answer escalates")
    answer_expires: timedelta = Field(
        timedelta(hours=48), description="unanswered by then, the request is closed unanswered"
    )

    def needs_person(self, handed_over: bool, confidence: float, looked_up: bool) -> bool:
        """Whether a sales rep answers the customer instead of the agent: it handed over, is
        unsure, or would answer without having looked anything up."""
        return handed_over or confidence < self.confidence_threshold or not looked_up

    def people_needed(self, facts: dict[str, Any]) -> set[str]:
        needed = {APPROVE} if facts.get("writes_asked", 0) else set()
        if "answer_confidence" in facts and self.needs_person(
            facts.get("handed_over", False),
            facts["answer_confidence"],
            facts.get("looked_up", False),
        ):
            needed.add(ANSWER)
        return needed


class ServiceInput(ProcessInput):
    customer_id: str = Field(
        min_length=1, max_length=50, pattern=COUNTERPARTY_ID, examples=["C-1001"]
    )
    message: str = Field(
        min_length=1,
        max_length=20_000,
        pattern=r"\S",
        examples=["Where is my order SO-1A2B3C4D5E?"],
    )
    channel: Literal["email", "chat", "phone", "web"] = "email"

    def title(self) -> str:
        return f"Customer service for {self.customer_id} ({self.channel})"

    def counterparty(self) -> str:
        return self.customer_id


class ServiceRun(ProcessRun):
    request: ServiceInput
    policy: ServicePolicy = Field(default_factory=ServicePolicy)


CUSTOMER_SERVICE = ProcessType(
    name="customer-service",
    workflow="CustomerService",
    description=(
        "A customer's message that is not an order: an AI agent looks the order up in the ERP "
        "and the MES and answers, changes a quantity once a sales rep approves, or hands the "
        "request to a sales rep with what it found."
    ),
    roles=(Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN),
    input_model=ServiceInput,
    run_model=ServiceRun,
    input_field="request",
    policy_model=ServicePolicy,
    key_prefix="CS",
    department=Department.SALES,
    design=(
        DesignedStage(
            "capture",
            (
                "record the interaction in the CRM",
                "look up the customer's orders",
                "classify the message",
            ),
        ),
        DesignedStage(
            "agent",
            (
                DECIDE,
                "look up the reservations",
                "look up the production orders",
                APPROVE,
                "change the reserved quantity",
            ),
        ),
        DesignedStage("answer-the-customer", (ANSWER,)),
        DesignedStage("reply", ("reply to the customer", "close the CRM interaction")),
    ),
    noun="request",
)
