"""The overdue-payables review: the input, its policy values, the run and the catalogue entry.

A recurring process (a schedule starts it, daily by default in README): finance lists the
invoices past their due date that no payment has settled, and when there are any, one task
asks a finance controller to look at the list.
"""

from datetime import date, timedelta
from typing import Any

from pydantic import ConfigDict, Field

from workflows.contracts.departments import Department
from workflows.contracts.processes import (
    DesignedStage,
    ProcessInput,
    ProcessPolicy,
    ProcessRun,
    ProcessType,
)
from workflows.contracts.roles import Role

REVIEW = "review overdue payables"  # the decision point: only when something is overdue


class PayablesReviewPolicy(ProcessPolicy):
    """How late counts as overdue and how long the controller has; tests set them to seconds."""

    model_config = ConfigDict(extra="forbid")  # a misspelled setting is an error
    decision_points = (REVIEW,)

    grace_days: int = Field(0, ge=0, le=365, description="days past due before it is listed")
    max_listed: int = Field(100, ge=1, le=1000, description="invoices shown in the task")
    review_expires: timedelta = Field(
        timedelta(hours=23), description="unreviewed by then, the next review takes over"
    )
    ap_team: str = Field("accounts-payable", description="who is told to pay what is expedited")

    def people_needed(self, facts: dict[str, Any]) -> set[str]:
        return {REVIEW} if facts.get("overdue", 0) > 0 else set()


class PayablesReviewInput(ProcessInput):
    as_of: date | None = Field(None, description="the day to review; the day it runs if empty")

    def title(self) -> str:
        return f"Overdue payables as of {self.as_of}" if self.as_of else "Overdue payables"


class PayablesReviewRun(ProcessRun):
    review: PayablesReviewInput
    policy: PayablesReviewPolicy = Field(default_factory=PayablesReviewPolicy)


PAYABLES_REVIEW = ProcessType(
    name="payables-review",
    workflow="PayablesReview",
    description=(
        "A recurring review (start it from a schedule): finance lists the invoices past due "
        "that no payment has settled; if there are any, a finance controller reviews the list "
        "in one task and may have accounts payable expedite them."
    ),
    roles=(Role.FINANCE_CONTROLLER, Role.ADMIN),
    input_model=PayablesReviewInput,
    run_model=PayablesReviewRun,
    input_field="review",
    policy_model=PayablesReviewPolicy,
    key_prefix="PAY",
    department=Department.FINANCE,
    design=(
        DesignedStage("collect", ("list the overdue payables",)),
        DesignedStage("review-overdue-payables", (REVIEW,)),
        DesignedStage("expedite", ("tell accounts payable",)),
    ),
    noun="review",
)
