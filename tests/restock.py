"""A tiny process built from the kit, as README's "How to add a process" says: its contracts
(here beside its workflow; in Baton they go to workflows/contracts/), its workflow, its catalogue
entry, and its registration with the processes worker (the tests' stack adds TEST_WORKFLOWS).

restock: read the price (ERP bot) -> a sales manager approves -> tell the warehouse (bot).
"""

from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field
from temporalio import workflow

from workflows.contracts.bots import BotActivity, Catalogue, CatalogueRequest, Notified, Notify
from workflows.contracts.departments import Department
from workflows.contracts.processes import (
    DesignedStage,
    ProcessInput,
    ProcessPolicy,
    ProcessRun,
    ProcessState,
    ProcessType,
)
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskSpec
from workflows.steps.process import Process, Rejected, process

# -- contracts ----------------------------------------------------------------------------------


class RestockInput(ProcessInput):
    sku: str = Field(min_length=1, max_length=50)
    quantity: int = Field(gt=0, le=10_000)

    def title(self) -> str:
        return f"Restock {self.quantity} x {self.sku}"


class RestockPolicy(ProcessPolicy):
    model_config = ConfigDict(extra="forbid")  # a misspelled setting is an error
    decision_points = ("approval",)

    approval_expires: timedelta = timedelta(hours=8)

    def people_needed(self, facts: dict[str, Any]) -> set[str]:
        return {"approval"}  # every restock is approved


class RestockRun(ProcessRun):
    restock: RestockInput
    policy: RestockPolicy = Field(default_factory=RestockPolicy)


RESTOCK = ProcessType(
    name="test-restock",
    workflow="TestRestock",
    description="A sales rep asks to buy stock, a sales manager approves; the warehouse is told.",
    roles=(Role.SALES_REP, Role.SALES_MANAGER),
    input_model=RestockInput,
    run_model=RestockRun,
    input_field="restock",
    policy_model=RestockPolicy,
    key_prefix="RS",
    department=Department.INVENTORY,
    design=(
        DesignedStage("price", ("read the price",)),
        DesignedStage("approval", ("approval",)),
        DesignedStage("warehouse", ("tell the warehouse",)),
    ),
)

# -- workflow -----------------------------------------------------------------------------------


@process(RESTOCK)
class RestockWorkflow(Process[RestockRun]):
    @workflow.init  # the SDK wants the initialiser typed exactly like `run`
    def __init__(self, run: RestockRun) -> None:
        super().__init__(run)

    @workflow.run
    async def run(self, run: RestockRun) -> ProcessState:
        async with self.conducting():
            amount = await self._price()
            await self._approve(amount)
            await self._tell_the_warehouse()
            self.complete({"outcome": "restocked", "amount": amount})
        return self.live_state()

    async def _price(self) -> float:
        restock = self.run_input.restock
        self.tracker.stage("price")
        catalogue = await self.bot_step(
            "read the price", BotActivity.GET_CATALOGUE, CatalogueRequest(), Catalogue, "ERP"
        )
        price = next((p.unit_price for p in catalogue.products if p.sku == restock.sku), None)
        if price is None:
            raise Rejected(f"unknown SKU {restock.sku}")
        return round(price * restock.quantity, 2)

    async def _approve(self, amount: float) -> None:
        restock = self.run_input.restock
        decided = await self.task(
            TaskSpec(
                name="approval",
                title=f"Buy {restock.quantity} x {restock.sku} for {amount:,.2f}?",
                candidate_roles=[Role.SALES_MANAGER],
                expire_after=self.run_input.policy.approval_expires,
                expiry_outcome="reject",
                requester=self.run_input.requested_by,
            ),
            "a sales manager",
        )
        if decided.outcome != "approve":
            raise Rejected(f"rejected by {', '.join(decided.decided_by)}")

    async def _tell_the_warehouse(self) -> None:
        restock, key = self.run_input.restock, self.run_input.business_key
        self.tracker.stage("warehouse")
        await self.bot_step(
            "tell the warehouse",
            BotActivity.NOTIFY,
            Notify(recipient="warehouse", subject=f"Restock {restock.sku}", ref=key),
            Notified,
            f"Notify the warehouse: {restock.quantity} x {restock.sku}",
        )
