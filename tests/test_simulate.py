"""`baton simulate`: the plan is a pure function of its seed, durations are compressed, and a
small month through the real stack ends with Temporal, the inbox and the report agreeing."""

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from baton.simulate import (
    Decision,
    MasterData,
    Plan,
    Report,
    compressed,
    plan_business,
    simulate,
)
from core.db import make_engine
from core.inbox import HumanTask
from core.insight.kpis import kpis
from core.insight.log import Window, cases_in
from core.settings import Settings
from systems import seed
from tests.helpers import Stack, wait_for
from workflows.contracts import search_attributes as search
from workflows.contracts.invoices import INVOICE_PROCESSING, InvoicePolicy
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderInput, OrderPolicy

# The sandbox's seed data, as the simulator reads it over HTTP.
MASTER = MasterData.model_validate(
    {
        "products": [product._asdict() for product in seed.PRODUCTS],
        "customers": [customer._asdict() for customer in seed.CUSTOMERS],
        "vendors": [vendor._asdict() for vendor in seed.VENDORS],
        "purchase_orders": [
            {
                **po._asdict(),
                "lines": [
                    {**line._asdict(), "received": received}
                    for line, received in zip(po.lines, po.received, strict=True)
                ],
            }
            for po in seed.PURCHASE_ORDERS
        ],
    }
)
PRICES = {product.sku: product.unit_price for product in seed.PRODUCTS}

# Two business days in half a minute (x5760: an approval escalates after 2.5 s). Slow approvers
# are more common than in a real month, so that so small a month sees an escalation.
SMALL = Plan(days=2, orders=16, invoices=8, minutes=0.5, seed=3, slow_share=0.3, pay_days=0.5)


def test_a_seed_gives_the_same_month() -> None:
    month = plan_business(SMALL, MASTER, batch="T1")
    assert month == plan_business(SMALL, MASTER, batch="T1")
    assert month != plan_business(replace(SMALL, seed=4), MASTER, batch="T1")
    kinds = [item.process_type for item in month]
    assert kinds.count(ORDER_FULFILLMENT.name) == SMALL.orders
    assert kinds.count(INVOICE_PROCESSING.name) == SMALL.invoices
    times = [item.at for item in month]
    assert times == sorted(times)
    assert all(0 <= at < SMALL.days * 86_400 for at in times)
    threshold = OrderPolicy().approval_threshold
    for item in month:
        if item.process_type == ORDER_FULFILLMENT.name:
            assert isinstance(item.process_input, OrderInput)
            amount = sum(PRICES.get(ln["sku"], 0) * ln["quantity"] for ln in item.truth["lines"])
            assert ("large" in item.tags) == (amount > threshold)
            assert ("free-text" in item.tags) == (item.process_input.message is not None)


def test_durations_are_compressed_and_thresholds_kept() -> None:
    plan = Plan()  # 30 days in 4 minutes
    fast = compressed(Settings(_env_file=None), plan)
    order = fast.policy_for(ORDER_FULFILLMENT)
    invoice = fast.policy_for(INVOICE_PROCESSING)
    assert isinstance(order, OrderPolicy)
    assert isinstance(invoice, InvoicePolicy)
    assert order.approval_due == timedelta(hours=4) / plan.compression
    assert order.approval_expires == timedelta(hours=24) / plan.compression
    assert order.approval_threshold == OrderPolicy().approval_threshold
    assert invoice.credit_note_wait == timedelta(days=14) / plan.compression
    assert invoice.pay_delay == timedelta(days=plan.pay_days) / plan.compression
    assert invoice.second_limit == InvoicePolicy().second_limit


def _tasks_of(settings: Settings, report: Report) -> list[HumanTask]:
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            query = select(HumanTask).where(col(HumanTask.process_id).in_(report.processes))
            return list(session.exec(query).all())
    finally:
        engine.dispose()


async def test_a_small_month_runs_through_the_stack(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"policies": {}})  # the plan's own durations
    report = await simulate(stack.client, settings, SMALL)

    assert not report.timed_out, report.summary()
    assert report.start_errors == []
    assert report.started == SMALL.orders + SMALL.invoices
    for process_id, record in report.processes.items():
        described = await stack.client.get_workflow_handle(process_id).describe()
        assert described.status is not None
        assert described.status.name == record.temporal_status != "RUNNING"
        assert described.typed_search_attributes.get(search.STATUS) == record.status
    assert sum(report.finished.values()) == report.started

    # Every task of the run was answered as the report says, or left to expire by plan.
    made: dict[str, list[Decision]] = defaultdict(list)
    for decision in report.decisions:
        made[decision.task_id].append(decision)
    unanswered = {t for record in report.processes.values() for t in record.unanswered}
    tasks = _tasks_of(settings, report)
    assert set(made) <= {task.task_id for task in tasks}
    for task in tasks:
        if task.status == "completed":
            decisions = made[task.task_id]
            assert decisions, f"{task.task_id} closed by nobody the report knows"
            assert decisions[-1].outcome == task.outcome
            assert [d.level for d in decisions] == list(range(len(decisions)))
            assert any(d.escalated for d in decisions) == (task.escalation_level > 0)
        else:
            assert task.status == "expired", task.task_id
            assert task.task_id in unanswered
            assert task.task_id not in made

    kinds = {decision.kind for decision in report.decisions}
    assert {"approval", "review"} <= kinds, report.summary()
    # Slow approvers were drawn, and at this pace the stack escalated their tasks in time.
    assert report.escalations_expected >= 1, report.summary()
    assert report.escalations_seen >= 1, report.summary()
    assert (await stack.sandbox.get("/admin/faults")).json() == []  # removed at the end

    await insight_equals_the_known_truth(settings, report, tasks)


# The role whose hours a task costs (its owner), by process type and task name.
OWNERS = {
    (ORDER_FULFILLMENT.name, "approval"): "sales_manager",
    (ORDER_FULFILLMENT.name, "review-lines"): "sales_rep",
    (INVOICE_PROCESSING.name, "review-invoice"): "ap_clerk",
    (INVOICE_PROCESSING.name, "match-exception"): "ap_clerk",
    (INVOICE_PROCESSING.name, "approval"): "finance_controller",
}


async def insight_equals_the_known_truth(
    settings: Settings, report: Report, tasks: list[HumanTask]
) -> None:
    """The KPIs of the simulated month equal what the test counts from the simulation's own
    report (what the simulated people did) and the inbox."""
    engine = make_engine(settings.resolved_database_url)
    records = report.processes.values()

    async def all_logged() -> bool:
        with Session(engine) as session:
            cases = cases_in(session, Window())
        return sum(c.ended_at is not None for c in cases) == report.started

    await wait_for(all_logged, "every simulated run's final rows in the log")
    with Session(engine) as session:
        found = kpis(session, Window(), settings.insight_costs).overall
    engine.dispose()

    touched = {task.process_id for task in tasks}
    completed = [r for r in records if r.status == "completed"]
    assert found.volume.started == report.started
    assert found.volume.completed == len(completed)
    assert found.volume.rejected == report.outcomes["rejected"]
    untouched = [r for r in completed if r.process_id not in touched]
    assert found.straight_through_rate == round(len(untouched) / len(completed), 4)
    assert found.escalations == sum(task.escalation_level for task in tasks)
    assert found.expiries == sum(task.status == "expired" for task in tasks)
    # A task breached its SLA when it closed after its first due time: it escalated (the first
    # rung is due then), or it expired undecided.
    late = sum(t.escalation_level > 0 or t.status == "expired" for t in tasks)
    assert found.sla_breaches == late
    reviews = [d for d in report.decisions if d.kind == "review"]
    assert found.rework == sum(d.corrected or d.outcome != "confirm" for d in reviews)
    costs = settings.insight_costs
    ptype = {r.process_id: r.process_type for r in records}
    people = sum(
        5 / 60 * costs.of_role(OWNERS[ptype[d.task_id.split(":task:")[0]], d.task])
        for d in report.decisions
    )
    assert found.cost_total.human == pytest.approx(people, abs=0.01)
