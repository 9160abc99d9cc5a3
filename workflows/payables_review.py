"""The overdue-payables review, a recurring process (a Temporal Schedule starts it).

collect (finance lists the invoices past due that no payment settled; none: done) -> review
(one task: a finance controller acknowledges the list or has it expedited) -> expedite (accounts
payable is told which invoices to pay first).
"""

from typing import Any

from temporalio import workflow

from workflows.contracts.bots import (
    BotActivity,
    Notified,
    Notify,
    OverduePayable,
    OverduePayables,
    OverduePayablesRequest,
)
from workflows.contracts.payables import PAYABLES_REVIEW, REVIEW, PayablesReviewRun
from workflows.contracts.processes import ProcessState
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskForm, TaskSpec
from workflows.steps.process import Process, process


@process(PAYABLES_REVIEW)
class PayablesReviewWorkflow(Process[PayablesReviewRun]):
    @workflow.init
    def __init__(self, run: PayablesReviewRun) -> None:
        super().__init__(run)
        self.overdue: OverduePayables | None = None

    def view(self) -> dict[str, Any]:
        if self.overdue is None:
            return {}
        return {"overdue": self.overdue.model_dump(mode="json")}

    def objects(self) -> list[str]:
        listed = self.overdue.invoices if self.overdue else []
        return [f"invoice:{invoice.invoice_id}" for invoice in listed]

    @workflow.run
    async def run(self, run: PayablesReviewRun) -> ProcessState:
        async with self.conducting():
            overdue = await self._collect()
            if overdue.count == 0:
                self.complete({"outcome": "nothing overdue", "as_of": str(overdue.as_of)})
            else:
                await self._review(overdue)
        return self.live_state()

    async def _collect(self) -> OverduePayables:
        policy = self.run_input.policy
        self.tracker.stage("collect")
        as_of = self.run_input.review.as_of or workflow.now().date()
        self.overdue = await self.bot_step(
            "list the overdue payables",
            BotActivity.LIST_OVERDUE_PAYABLES,
            OverduePayablesRequest(
                as_of=as_of, grace_days=policy.grace_days, limit=policy.max_listed
            ),
            OverduePayables,
            f"Finance: invoices unpaid past their due date, as of {as_of}",
        )
        self.state.facts.update(overdue=self.overdue.count)
        return self.overdue

    async def _review(self, overdue: OverduePayables) -> None:
        totals = _totals(overdue.totals)
        listed = "\n".join(_line(invoice) for invoice in overdue.invoices)
        more = overdue.count - len(overdue.invoices)
        spec = TaskSpec(
            name=REVIEW.replace(" ", "-"),
            kind="review",
            title=f"Review {overdue.count} overdue payables ({totals})",
            description=(
                f"Invoices past due on {overdue.as_of} that no payment has settled, the longest "
                f"overdue first:\n{listed}" + (f"\n... and {more} more" if more > 0 else "")
            ),
            candidate_roles=[Role.FINANCE_CONTROLLER],
            form=TaskForm(outcomes=["acknowledge", "expedite"], comment_required_for=["expedite"]),
            context={
                "overdue": overdue.model_dump(mode="json")["invoices"],
                "count": overdue.count,
            },
            expire_after=self.run_input.policy.review_expires,
            requester=self.run_input.requested_by,
            four_eyes=False,  # reviewing payables is the controller's own work
        )
        result = await self.task(spec, "a finance controller")
        decided = {
            "as_of": str(overdue.as_of),
            "count": overdue.count,
            "totals": totals,
            "reviewed_by": result.decided_by,
        }
        if result.outcome == "expedite":
            await self._expedite(overdue, result.comment)
            self.complete({"outcome": "expedited", **decided})
        elif result.expired:
            self.complete({"outcome": "not reviewed", **decided})
        else:
            self.complete({"outcome": "acknowledged", **decided})

    async def _expedite(self, overdue: OverduePayables, comment: str) -> None:
        team = self.run_input.policy.ap_team
        self.tracker.stage("expedite")
        lines = "\n".join(_line(invoice) for invoice in overdue.invoices)
        await self.bot_step(
            "tell accounts payable",
            BotActivity.NOTIFY,
            Notify(
                recipient=team,
                channel="inbox",
                subject=f"Pay first: {overdue.count} overdue invoices",
                body=f"{comment}\n\n{lines}",
                ref=self.run_input.business_key,
            ),
            Notified,
            f"Notify {team}: expedite {overdue.count} invoices",
        )


def _line(invoice: OverduePayable) -> str:
    scheduled = f", payment {invoice.payment_status} for {invoice.pay_on}" if invoice.pay_on else ""
    return (
        f"- {invoice.vendor_id} {invoice.invoice_number}: {invoice.total:,.2f} "
        f"{invoice.currency}, due {invoice.due_date} ({invoice.days_overdue} days){scheduled}"
    )


def _totals(owed: dict[str, float]) -> str:
    """What is owed, per currency: "12,400.00 EUR, 310.00 USD"."""
    return ", ".join(f"{total:,.2f} {currency}" for currency, total in sorted(owed.items()))
