"""`baton simulate`: a month of business through the real stack, compressed into minutes.

Insight (KPIs, the process map) needs data that looks like a company's. This drives a seeded mix
of orders and invoices through the running stack (Temporal, the workers, the sandbox, Baton's
database), with simulated people deciding the human tasks, and divides every business duration
by one factor. The report keeps the known truth (what was planned, who decided what and when)
that the insight tests compare their figures with.

Three parts: the plan (a pure function of the plan's values and the sandbox's data, so a seed
always gives the same month), the people (each draws a delay and a decision from a random
generator seeded by the task, so they answer alike whatever the timing), and the run.
"""

import asyncio
import contextlib
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from core.db import create_tables, make_engine, session_scope
from core.inbox import HumanTask
from core.ledger import LedgerRow
from core.processes import IdempotencyKeyReused, start_process
from core.settings import Settings
from core.signing import Signer, signer
from core.task_actions import NoVerdictYet, send_action
from core.temporal import connect
from core.users import UserExistsError, add_user
from workflows.contracts import search_attributes as search
from workflows.contracts.bots import OrderLine
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.invoices import INVOICE_PROCESSING, InvoiceInput
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderInput, OrderPolicy
from workflows.contracts.priority import Priority
from workflows.contracts.processes import ProcessInput
from workflows.contracts.roles import Role
from workflows.contracts.tasks import ActionKind, TaskAction, TaskForm, TaskStatus, Verdict

T = TypeVar("T")

DAY_S = 86_400.0
POLL_S = 0.2  # how often the people look at their inboxes
WATCH_S = 1.0  # how often the run asks Temporal how many processes still run
DECIDE_WINDOW_S = 30.0  # how long a person keeps trying to get a decision applied
LATE_VERDICT_S = 120.0  # how long a person waits for a verdict the workflow owes them
LAG_WARNING = timedelta(hours=1)  # a lag beyond it blurs escalations: the summary says so
FAULT_PATHS = ("/erp/*", "/crm/*")
SIMULATED = (ORDER_FULFILLMENT, INVOICE_PROCESSING)


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a simulated month holds, its mix, and how fast it runs."""

    days: int = 30
    orders: int = 600
    invoices: int = 300
    seed: int = 7
    minutes: float = 10.0  # wall-clock minutes the arrivals are spread over (2 cores: >= 10)
    urgent_share: float = 0.1
    approval_share: float = 0.25  # orders large enough to need approval
    free_text_share: float = 0.4
    vague_share: float = 0.25  # of free-text orders: so loose that the AI asks a sales rep
    unknown_sku_share: float = 0.02  # orders the process rejects
    mismatch_share: float = 0.2  # invoices billing a wrong price
    duplicate_share: float = 0.05  # invoices sent again
    terse_share: float = 0.1  # invoices too terse for the AI: an AP clerk reviews them
    fault_rate: float = 0.02  # transient 503s of the sandbox's ERP and CRM
    slow_share: float = 0.1  # order approvals left past their due time: they escalate
    unanswered_share: float = 0.02  # tasks nobody answers: they expire
    pay_days: float = 2.0  # business days between scheduling a payment and releasing it

    def __post_init__(self) -> None:
        if self.days <= 0 or self.minutes <= 0 or self.pay_days < 0:
            raise ValueError("days and minutes must be positive, pay_days not negative")
        if self.orders < 0 or self.invoices < 0:
            raise ValueError("orders and invoices must not be negative")
        shares = {f.name: getattr(self, f.name) for f in fields(self) if f.name.endswith("_share")}
        shares["fault_rate"] = self.fault_rate
        wrong = [name for name, value in shares.items() if not 0 <= value <= 1]
        if wrong:
            raise ValueError(f"shares must be within 0 and 1: {', '.join(wrong)}")

    @property
    def compression(self) -> float:
        """Business time per wall-clock time."""
        return self.days * 24 * 60 / self.minutes


class _Master(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Product(_Master):
    sku: str
    name: str
    unit_price: float


class Customer(_Master):
    customer_id: str
    credit_limit: float
    exposure: float = 0.0


class Vendor(_Master):
    vendor_id: str
    name: str
    payment_terms_days: int


class PoLine(_Master):
    sku: str
    unit_price: float
    received: int


class PurchaseOrder(_Master):
    po_number: str
    vendor_id: str
    currency: str
    lines: tuple[PoLine, ...]


class MasterData(_Master):
    """What the sandbox holds that realistic inputs name."""

    products: tuple[Product, ...]
    customers: tuple[Customer, ...]
    vendors: tuple[Vendor, ...]
    purchase_orders: tuple[PurchaseOrder, ...]


async def fetch_master_data(sandbox: httpx.AsyncClient) -> MasterData:
    """Reads the catalogue, customers, vendors and purchase orders (PO-50001 onwards: the
    sandbox lists none, so they are read in turn until one is missing)."""
    found: dict[str, Any] = {
        name: await _read(sandbox, path)
        for name, path in (
            ("products", "/erp/products"),
            ("customers", "/crm/customers"),
            ("vendors", "/erp/vendors"),
        )
    }
    orders = []
    for number in range(50_001, 50_100):
        if (order := await _read(sandbox, f"/erp/purchase-orders/PO-{number}")) is None:
            break
        orders.append(order)
    return MasterData.model_validate({**found, "purchase_orders": orders})


async def _read(sandbox: httpx.AsyncClient, path: str, attempts: int = 3) -> Any:
    """A GET's JSON, or None for 404; tried again after a 5xx (a fault an earlier run left)."""
    for attempt in range(1, attempts + 1):
        response = await sandbox.get(path)
        if response.status_code == 404:
            return None
        if response.status_code < 500 or attempt == attempts:
            return response.raise_for_status().json()
        await asyncio.sleep(POLL_S)


@dataclass(frozen=True)
class Planned:
    """One process of the month: its input, when it arrives, and what is true about it."""

    key: str  # e.g. order-0007, stable within a plan
    process_type: str
    at: float  # business seconds after the month began
    tags: tuple[str, ...]  # structured/free-text/vague/urgent/large/unknown-sku, ...
    requested_by: str
    process_input: ProcessInput
    # What the people know and fill in or correct: the lines meant, the invoice as issued.
    truth: dict[str, Any]


def person(role: Role, number: int) -> str:
    return f"sim-{role.value.replace('_', '-')}-{number}"


DECIDING_ROLES = (Role.SALES_REP, Role.SALES_MANAGER, Role.FINANCE_CONTROLLER, Role.AP_CLERK)
# The simulated people: two per deciding role and an admin.
PEOPLE: dict[str, Role] = {
    **{person(role, n): role for role in DECIDING_ROLES for n in (1, 2)},
    person(Role.ADMIN, 1): Role.ADMIN,
}


def _people_of(role: Role) -> list[str]:
    return [name for name, held in PEOPLE.items() if held is role]


def plan_business(
    plan: Plan,
    master: MasterData,
    *,
    batch: str = "",
    first_day: date = date(2026, 1, 5),
    approval_threshold: float = OrderPolicy().approval_threshold,
) -> list[Planned]:
    """The month's processes in order of arrival: a pure function of its arguments. `batch`
    makes invoice numbers unique to one run (the sandbox remembers every invoice it saw);
    `first_day` (a Monday) dates the invoices; large orders are above `approval_threshold`."""
    rng = random.Random(plan.seed)
    order_times = _arrivals(rng, plan.orders, plan.days)
    invoice_times = _arrivals(rng, plan.invoices, plan.days)
    orders = _Orders(plan, master, rng, approval_threshold)
    invoices = _Invoices(plan, master, rng, batch, first_day)
    planned = [orders.make(i + 1, at) for i, at in enumerate(order_times)]
    planned += [invoices.make(i + 1, at) for i, at in enumerate(invoice_times)]
    return sorted(planned, key=lambda item: (item.at, item.key))


def _business_hours(at: float) -> float:
    """How busy the moment is: weekdays (the month starts on a Monday) from 8 to 18 h."""
    day, hour = divmod(at, DAY_S)
    weekday = int(day) % 7 < 5
    return (1.0 if weekday else 0.15) * (1.0 if 8 <= hour / 3600 < 18 else 0.08)


def _arrivals(rng: random.Random, count: int, days: int) -> list[float]:
    """`count` arrival times of a Poisson process shaped by business hours: given its count,
    its times are independent draws from the shape (drawn by rejection)."""
    times: list[float] = []
    while len(times) < count:
        at = rng.uniform(0, days * DAY_S)
        if rng.random() < _business_hours(at):
            times.append(at)
    return sorted(times)


def _draw(rng: random.Random, share: float) -> bool:
    return rng.random() < share


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


# Sentences the local extractor reads well (measured), and two it is rightly unsure of.
_MESSAGES = (
    "Hi team, we need {items}. Regards, {who}",
    "Hello,\nplease send us {items}.\nBest regards,\n{who}",
    "Good morning,\nwe would like to order {items}.\nThanks,\n{who}",
)
_URGENT_MESSAGE = "Hi team, we urgently need {items} asap, it is for a line stop. {who}"
_MENTIONS = ("{q} x {sku}", "{q} units of {sku}", "{q} pcs {name}", "{q} {name}")
_VAGUE_MENTIONS = ("a few {name}s, maybe {q}", "the usual {name}s, {q} i think")
_SIGNATURES = ("Tom", "Anna", "Marco Silva", "Grace", "Wei Murphy", "Luka")


class _Orders:
    """Order inputs: lines that fit a customer's remaining credit, written as lines or text."""

    def __init__(
        self, plan: Plan, master: MasterData, rng: random.Random, threshold: float
    ) -> None:
        self.plan, self.rng, self.threshold = plan, rng, threshold
        self.products = sorted(master.products, key=lambda product: product.unit_price)
        self.prices = {product.sku: product.unit_price for product in master.products}
        # Credit left per customer. The sandbox never gives exposure back (customers do not
        # pay within it), so a month's orders share what is left when it starts.
        self.headroom = {c.customer_id: c.credit_limit - c.exposure for c in master.customers}
        self.reps = _people_of(Role.SALES_REP)

    def make(self, number: int, at: float) -> Planned:
        rng, plan = self.rng, self.plan
        urgent, large = _draw(rng, plan.urgent_share), _draw(rng, plan.approval_share)
        unknown = _draw(rng, plan.unknown_sku_share)
        free_text = not unknown and _draw(rng, plan.free_text_share)
        vague = free_text and _draw(rng, plan.vague_share)
        customer, lines, fits = self._customer_and_lines(large)
        large = self._amount(lines) > self.threshold
        if unknown:
            lines = [*lines, OrderLine(sku=self._unknown_sku(), quantity=rng.randint(1, 20))]
        else:
            self.headroom[customer] -= self._amount(lines)
        priority = Priority.URGENT if urgent else Priority.NORMAL
        kinds = (
            ("free-text", free_text),
            ("vague", vague),
            ("structured", not free_text),
            ("large", large),
            ("urgent", urgent),
            ("unknown-sku", unknown),
            ("over-credit", not (fits or unknown)),
        )
        given: dict[str, Any] = (
            {"message": self._message(lines, urgent, vague)} if free_text else {"lines": lines}
        )
        order = OrderInput(customer_id=customer, priority=priority, **given)
        return Planned(
            key=f"order-{number:04d}",
            process_type=ORDER_FULFILLMENT.name,
            at=at,
            tags=tuple(name for name, holds in kinds if holds),
            requested_by=rng.choice(self.reps),
            process_input=order,
            truth={"lines": [line.model_dump() for line in lines]},
        )

    def _customer_and_lines(self, large: bool) -> tuple[str, list[OrderLine], bool]:
        """A customer with credit for the order, the lines, and whether the credit suffices.
        A large order that no customer has credit for becomes a small one; a small one goes
        to the customer with the most credit left all the same (finance refuses it then: a
        sandbox used for months runs out of credit; `POST /admin/reset` gives it back)."""
        for size in (True, False) if large else (False,):
            lines = self._lines(size)
            fitting = sorted(c for c, left in self.headroom.items() if left >= self._amount(lines))
            if fitting:
                return self.rng.choice(fitting), lines, True
        return max(self.headroom, key=lambda c: self.headroom[c]), lines, False

    def _lines(self, large: bool) -> list[OrderLine]:
        rng = self.rng
        if large:  # one expensive line over the threshold, perhaps with a small one
            target = self.threshold * rng.uniform(1.02, 1.3)
            dear = [p for p in self.products if p.unit_price >= self.threshold / 50]
            anchor = rng.choice(dear or self.products[-1:])
            lines = [OrderLine(sku=anchor.sku, quantity=math.ceil(target / anchor.unit_price))]
            if _draw(rng, 0.5):
                lines += self._small(1, rng.uniform(50, 500), {anchor.sku})
            return lines
        return self._small(rng.choice((1, 1, 2, 2, 3)), rng.uniform(80, self.threshold / 5))

    def _small(self, count: int, target: float, taken: set[str] | None = None) -> list[OrderLine]:
        """Up to `count` lines of other products worth about `target` together."""
        share, taken = target / count, set(taken or ())
        lines = []
        for _ in range(count):
            affordable = [p for p in self.products if p.unit_price <= share and p.sku not in taken]
            product = self.rng.choice(affordable or [self.products[0]])
            if product.sku in taken:
                break
            taken.add(product.sku)
            lines.append(
                OrderLine(sku=product.sku, quantity=max(1, int(share / product.unit_price)))
            )
        return lines

    def _unknown_sku(self) -> str:
        prefix = self.rng.choice(self.products).sku.split("-")[0]
        return next(sku for n in range(999, 0, -1) if (sku := f"{prefix}-{n}") not in self.prices)

    def _amount(self, lines: list[OrderLine]) -> float:
        return sum(self.prices.get(line.sku, 0.0) * line.quantity for line in lines)

    def _message(self, lines: list[OrderLine], urgent: bool, vague: bool) -> str:
        rng = self.rng
        names = {product.sku: product.name for product in self.products}
        mentions = [
            rng.choice(_MENTIONS).format(q=line.quantity, sku=line.sku, name=names[line.sku])
            for line in lines
        ]
        if vague:  # the last line is meant, but written loosely
            last = lines[-1]
            mention = rng.choice(_VAGUE_MENTIONS)
            mentions[-1] = mention.format(q=last.quantity, name=names[last.sku].lower())
        template = _URGENT_MESSAGE if urgent else rng.choice(_MESSAGES)
        return template.format(items=_join(mentions), who=rng.choice(_SIGNATURES))


_TAX = {"EUR": 0.19, "USD": 0.07}


class _Invoices:
    """Invoice texts for the purchase orders with goods received: most match, some bill a
    wrong price, some are too terse to read, and some are sent twice."""

    def __init__(
        self, plan: Plan, master: MasterData, rng: random.Random, batch: str, first_day: date
    ) -> None:
        self.plan, self.rng, self.batch, self.first_day = plan, rng, batch, first_day
        self.orders = [po for po in master.purchase_orders if any(ln.received for ln in po.lines)]
        self.vendors = {vendor.vendor_id: vendor for vendor in master.vendors}
        self.names = {product.sku: product.name for product in master.products}
        self.clerks = _people_of(Role.AP_CLERK)
        self.sent: list[Planned] = []  # readable invoices so far: what a duplicate repeats

    def make(self, number: int, at: float) -> Planned:
        rng, plan = self.rng, self.plan
        key, clerk = f"invoice-{number:04d}", rng.choice(self.clerks)
        if self.sent and _draw(rng, plan.duplicate_share):
            first = rng.choice(self.sent)
            return Planned(
                key, first.process_type, at, ("duplicate",), clerk, first.process_input, first.truth
            )
        if not self.orders:
            raise ValueError("the sandbox has no purchase order with goods received")
        mismatch, terse = _draw(rng, plan.mismatch_share), _draw(rng, plan.terse_share)
        truth = self._issue(number, at, rng.choice(self.orders), mismatch)
        text = self._terse(truth) if terse else self._text(truth)
        tags = ("terse" if terse else "readable", *(("mismatch",) if mismatch else ()))
        invoice = InvoiceInput(text=text)
        planned = Planned(key, INVOICE_PROCESSING.name, at, tags, clerk, invoice, truth)
        if not terse:
            self.sent.append(planned)
        return planned

    def _issue(self, number: int, at: float, po: PurchaseOrder, mismatch: bool) -> dict[str, Any]:
        """The invoice as the vendor issues it, for what was received; a mismatch bills one
        line above the order's price (beyond any tolerance)."""
        billed = [line for line in po.lines if line.received]
        wrong = self.rng.randrange(len(billed)) if mismatch else -1
        lines: list[dict[str, Any]] = []
        for i, line in enumerate(billed):
            price = round(line.unit_price * (self.rng.uniform(1.06, 1.2) if i == wrong else 1), 2)
            lines.append(
                {
                    "description": f"{line.sku} {self.names.get(line.sku, line.sku)}",
                    "sku": line.sku,
                    "quantity": line.received,
                    "unit_price": price,
                    "amount": round(line.received * price, 2),
                }
            )
        subtotal = round(sum(line["amount"] for line in lines), 2)
        tax = round(subtotal * _TAX.get(po.currency, 0.0), 2)
        issued = self.first_day + timedelta(days=int(at // DAY_S))
        terms = self.vendors[po.vendor_id].payment_terms_days
        return {
            "vendor_id": po.vendor_id,
            "invoice_number": "-".join(
                part for part in ("INV", self.batch, f"{number:05d}") if part
            ),
            "invoice_date": issued.isoformat(),
            "due_date": (issued + timedelta(days=terms)).isoformat(),
            "po_number": po.po_number,
            "currency": po.currency,
            "lines": lines,
            "subtotal": subtotal,
            "tax": tax,
            "total": round(subtotal + tax, 2),
        }

    def _text(self, truth: dict[str, Any]) -> str:
        lines = "\n".join(
            f"{ln['description']} {ln['quantity']} x {ln['unit_price']:.2f} = {ln['amount']:.2f}"
            for ln in truth["lines"]
        )
        return (
            f"INVOICE\n{self.vendors[truth['vendor_id']].name}\n"
            f"Invoice number: {truth['invoice_number']}\nInvoice date: {truth['invoice_date']}\n"
            f"Due date: {truth['due_date']}\nPurchase order: {truth['po_number']}\n"
            f"Currency: {truth['currency']}\n\n{lines}\n\nSubtotal: {truth['subtotal']:.2f}\n"
            f"Tax: {truth['tax']:.2f}\nTotal: {truth['total']:.2f}\n"
        )

    def _terse(self, truth: dict[str, Any]) -> str:
        vendor = self.vendors[truth["vendor_id"]].name.split()[0]
        goods = _join([f"{ln['quantity']} x {ln['sku']}" for ln in truth["lines"]])
        return (
            f"Invoice {truth['invoice_number']} from {vendor} for {truth['po_number']}, {goods}, "
            f"about {truth['total']:.0f} {truth['currency']}"
        )


# -- compressed time ----------------------------------------------------------------------------


def compressed(settings: Settings, plan: Plan) -> Settings:
    """Settings whose process policies run `plan.compression` times faster than business time:
    every duration divided (4 h to approve becomes 4 h / compression), every threshold kept,
    and payments released `pay_days` (compressed) after they are scheduled."""
    policies = dict(settings.policies)
    for ptype in PROCESS_TYPES.values():
        policy = settings.policy_for(ptype)
        faster = {
            name: value / plan.compression for name, value in policy if isinstance(value, timedelta)
        }
        if ptype is INVOICE_PROCESSING:
            faster["pay_delay"] = timedelta(days=plan.pay_days) / plan.compression
        policies[ptype.name] = policy.model_copy(update=faster).model_dump(mode="json")
    return settings.model_copy(
        update={"policies": policies, "simulated_time_scale": plan.compression}
    )


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One decision a simulated person made, as the workflow applied it."""

    task_id: str
    task: str  # the task's name, e.g. approval
    kind: str  # approval, review, exception
    outcome: str
    by: str
    delay: timedelta  # business time the person meant to take, from seeing the task
    took: timedelta  # business time until the workflow applied it (a busy stack adds some)
    corrected: bool  # the person changed a pre-filled value (or filled in what AI missed)
    level: int  # the approval level (sequential approvals have several)
    escalated: bool  # the task had escalated when it was decided
    expected_escalation: bool  # the delay was longer than the time to escalation


@dataclass
class ProcessRecord:
    """One started process: what was planned, what people did, how it ended."""

    process_id: str
    process_type: str
    key: str
    tags: tuple[str, ...]
    requested_by: str
    decisions: list[Decision] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)  # task ids nobody was to answer
    missed: list[str] = field(default_factory=list)  # task ids that closed before an answer
    temporal_status: str = ""  # COMPLETED, FAILED, ... or RUNNING when the run timed out
    status: str = ""  # Baton's: completed, rejected, failed, cancelled


@dataclass
class Report:
    """What the run did, and the known truth insight's figures are checked against."""

    plan: Plan
    compression: float
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    start_errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    timed_out: bool = False

    @property
    def started(self) -> int:
        return len(self.processes)

    @property
    def finished(self) -> Counter[str]:
        """Processes by their status in Temporal."""
        return Counter(record.temporal_status for record in self.processes.values())

    @property
    def outcomes(self) -> Counter[str]:
        """Processes by Baton's status (completed, rejected, ...)."""
        return Counter(record.status for record in self.processes.values())

    @property
    def decisions(self) -> list[Decision]:
        return [d for record in self.processes.values() for d in record.decisions]

    @property
    def tasks_decided(self) -> int:
        return len({decision.task_id for decision in self.decisions})

    @property
    def escalations_expected(self) -> int:
        return sum(decision.expected_escalation for decision in self.decisions)

    @property
    def escalations_seen(self) -> int:
        return len({d.task_id for d in self.decisions if d.escalated})

    @property
    def lag(self) -> timedelta:
        """Median business time between a person's decision and the workflow applying it: how
        far the stack fell behind the plan's pace (then tasks escalate and expire late)."""
        lags = sorted(decision.took - decision.delay for decision in self.decisions)
        return lags[len(lags) // 2] if lags else timedelta(0)

    def summary(self) -> str:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{name or '?'} {n}" for name, n in counter.most_common()) or "none"

        plan, decisions = self.plan, self.decisions
        lines = [
            f"Simulated {plan.days} days in {self.elapsed_s / 60:.1f} min "
            f"(x{self.compression:,.0f}, seed {plan.seed}): {self.started} processes started"
            + (f", {len(self.start_errors)} failed to start" if self.start_errors else ""),
            f"  Temporal: {counts(self.finished)}",
            f"  outcome:  {counts(self.outcomes)}",
            f"  people:   {len(decisions)} decisions on {self.tasks_decided} tasks "
            f"({counts(Counter(d.outcome for d in decisions))}), "
            f"{sum(d.corrected for d in decisions)} reviews corrected",
            f"  escalations: {self.escalations_seen} ({self.escalations_expected} expected); "
            f"unanswered {sum(len(r.unanswered) for r in self.processes.values())}, "
            f"missed {sum(len(r.missed) for r in self.processes.values())}",
        ]
        lag = self.lag.total_seconds() / 3600
        lines.append(f"  stack lag: {lag:.1f} business hours (median, decision to effect)")
        if self.lag > LAG_WARNING:
            lines.append("  the stack fell behind this pace: give the run more minutes")
        if self.timed_out:
            lines.append("  the deadline passed before every process finished")
        return "\n".join(lines)


@dataclass(frozen=True)
class Progress:
    """Where the run is, for a progress line."""

    planned: int
    started: int
    finished: int
    open_tasks: int
    decided: int
    elapsed_s: float


# -- the people ---------------------------------------------------------------------------------

# How long people take, by task kind (median business time; lognormal around it).
_DELAYS = {"approval": timedelta(hours=1), "review": timedelta(minutes=20)}
_OTHER_DELAY = timedelta(minutes=45)
_SPREAD = 0.7  # sigma of the lognormal
_LONGEST = timedelta(hours=6)  # nobody on time takes longer
# What people decide, by task kind; outcomes a form lacks are left out.
_OUTCOMES = {
    "approval": (("approve", 0.85), ("reject", 0.15)),
    "review": (("confirm", 1.0),),
    "exception": (("accept_variance", 0.7), ("reject", 0.3)),
}
_CORRECT_SHARE = 0.1  # reviews whose values the person corrects
_COMMENTS = (
    "the customer is on credit watch",
    "not within this quarter's budget",
    "prices do not match what we agreed",
    "please check with the customer first",
)


def ensure_people(engine: Engine) -> None:
    """Creates the simulated people that are missing (their roles count in every check)."""
    create_tables(engine)  # safe at every start; a fresh database gets its tables
    for name, role in PEOPLE.items():
        with contextlib.suppress(UserExistsError), session_scope(engine) as session:
            add_user(session, name, [role])


@dataclass(frozen=True)
class _Task:
    """What a person reads of a task in the inbox."""

    task_id: str
    process_id: str
    name: str
    kind: str
    status: str
    candidate_roles: tuple[str, ...]
    requester: str | None
    form: TaskForm
    approval_level: int
    escalation_level: int

    @classmethod
    def of(cls, row: HumanTask) -> "_Task":
        return cls(
            row.task_id,
            row.process_id,
            row.name,
            row.kind,
            row.status,
            tuple(row.candidate_roles),
            row.requester,
            row.task_form,
            row.approval_level,
            row.escalation_level,
        )


@dataclass(frozen=True)
class _Answer:
    outcome: str
    comment: str
    data: dict[str, Any]
    corrected: bool


def _delay(rng: random.Random, kind: str, escalates: timedelta | None, plan: Plan) -> timedelta:
    """Business time a person takes. Slow ones wait well past the escalation; the others
    decide well before it, so which tasks escalate is known."""
    if escalates is not None and _draw(rng, plan.slow_share):
        return escalates * rng.uniform(1.3, 2.5)
    drawn = _DELAYS.get(kind, _OTHER_DELAY) * rng.lognormvariate(0, _SPREAD)
    return min(drawn, escalates * 0.6 if escalates is not None else _LONGEST)


def _answer(rng: random.Random, task: _Task, truth: dict[str, Any]) -> _Answer:
    """The person's decision: an outcome by the kind's odds, the form's required fields as
    pre-filled (what the AI missed filled in from what the person knows), and sometimes a
    review corrected to the truth."""
    form = task.form
    choices = [(o, weight) for o, weight in _OUTCOMES.get(task.kind, ()) if o in form.outcomes]
    outcome = (
        rng.choices([o for o, _ in choices], [w for _, w in choices])[0]
        if choices
        else form.outcomes[0]
    )
    shown = {f.name: f.default for f in form.fields}
    data = {
        f.name: truth.get(f.name) if f.default in (None, "", []) else f.default
        for f in form.fields
        if f.required
    }
    if task.kind == "review" and _draw(rng, _CORRECT_SHARE):
        data.update({name: value for name, value in truth.items() if name in shown})
    corrected = any(shown.get(name) != value for name, value in data.items())
    comment = rng.choice(_COMMENTS) if outcome in form.comment_required_for else ""
    return _Answer(outcome, comment, data, corrected)


def _person(rng: random.Random, task: _Task, starter: str, excluded: set[str]) -> str | None:
    """Someone holding a current candidate role: never the requester or the starter."""
    eligible = [
        name
        for name, role in PEOPLE.items()
        if role.value in task.candidate_roles
        and name not in {task.requester, starter}
        and name not in excluded
    ]
    return rng.choice(eligible) if eligible else None


# -- the run --------------------------------------------------------------------------------------


class StackNotRunning(RuntimeError):
    """Temporal or the sandbox does not answer."""


class _Simulation:
    def __init__(
        self,
        client: Client,
        settings: Settings,
        plan: Plan,
        planned: list[Planned],
        engine: Engine,
        progress: Callable[[Progress], None] | None,
        batch: str,
    ) -> None:
        self.client, self.settings, self.plan = client, settings, plan
        self.planned, self.engine, self.progress = planned, engine, progress
        self.signer: Signer = signer(settings)
        self.batch = batch
        self.report = Report(plan=plan, compression=plan.compression)
        self.items: dict[str, Planned] = {}  # by process id
        self.seen: set[tuple[str, int]] = set()  # (task id, approval level) taken in hand
        self.deciders: dict[str, set[str]] = {}  # who decided on each task
        self.workers: set[asyncio.Task[None]] = set()
        self.open_tasks = 0
        self.begun = time.monotonic()
        # Business time: the settings are compressed, the people's clocks are not.
        self.escalates = _order_policy(settings).approval_due * plan.compression

    async def run(self) -> Report:
        since = datetime.now(UTC) - timedelta(seconds=5)
        deadline = self.begun + self._allowed_s()
        starts = asyncio.create_task(self._start_all())
        people = asyncio.create_task(self._people())
        try:
            self.report.timed_out = not await self._until_done(starts, since, deadline)
        finally:
            for task in (starts, people, *self.workers):
                task.cancel()
            await asyncio.gather(starts, people, *self.workers, return_exceptions=True)
        await self._final_statuses()
        self.report.elapsed_s = time.monotonic() - self.begun
        return self.report

    def _allowed_s(self) -> float:
        """The arrivals, then time for the slowest process (a week of business), and spare."""
        return self.plan.minutes * 60 + 7 * DAY_S / self.plan.compression + 120

    # starting

    async def _start_all(self) -> None:
        for item in self.planned:
            wait = self.begun + item.at / self.plan.compression - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._start(item)

    async def _start(self, item: Planned) -> None:
        try:
            started = await start_process(
                self.client,
                self.settings,
                PROCESS_TYPES[item.process_type],
                item.process_input,
                item.requested_by,
                idempotency_key=f"simulate:{self.batch}:{item.key}",
            )
        except (RPCError, IdempotencyKeyReused) as exc:
            self.report.start_errors.append(f"{item.key}: {exc}")
            return
        self.items[started.process_id] = item
        self.report.processes[started.process_id] = ProcessRecord(
            started.process_id, item.process_type, item.key, item.tags, item.requested_by
        )

    # watching

    async def _until_done(
        self, starts: asyncio.Task[None], since: datetime, deadline: float
    ) -> bool:
        """Waits until every process has started and finished; False at the deadline."""
        while time.monotonic() < deadline:
            if starts.done():
                starts.result()  # raises what stopped the starts
            try:
                running = await self._running(since)
            except RPCError:  # the frontend is busy: ask again at the next look
                running = None
            self._tell(running)
            if starts.done() and running == 0 and not await self._any_running():
                return True
            await asyncio.sleep(WATCH_S)
        return False

    async def _running(self, since: datetime) -> int:
        """How many of this run's processes Temporal counts as running (one visibility query
        rather than one call per process)."""
        types = ", ".join(f"'{ptype.workflow}'" for ptype in SIMULATED)
        people = ", ".join(f"'{name}'" for name in PEOPLE)
        query = (
            f"WorkflowType IN ({types}) AND ExecutionStatus = 'Running' "
            f"AND StartTime >= '{since.isoformat()}' AND {search.REQUESTED_BY.name} IN ({people})"
        )
        counted = await self.client.count_workflows(query)
        return min(counted.count, len(self.items))

    async def _any_running(self) -> bool:
        """Visibility can lag: the processes themselves say whether they still run."""
        statuses = await _bounded(
            [self._describe(process_id) for process_id in self.items], limit=16
        )
        return any(status == WorkflowExecutionStatus.RUNNING.name for status, _ in statuses)

    async def _describe(self, process_id: str) -> tuple[str, str]:
        """The process's status in Temporal and Baton's (from its search attribute)."""
        try:
            described = await self.client.get_workflow_handle(process_id).describe()
        except RPCError:
            return "UNKNOWN", ""
        status = described.status.name if described.status else "UNKNOWN"
        return status, described.typed_search_attributes.get(search.STATUS) or ""

    async def _final_statuses(self) -> None:
        process_ids = list(self.report.processes)
        statuses = await _bounded([self._describe(pid) for pid in process_ids], limit=16)
        for process_id, (temporal_status, status) in zip(process_ids, statuses, strict=True):
            record = self.report.processes[process_id]
            record.temporal_status, record.status = temporal_status, status

    def _tell(self, running: int | None) -> None:
        if self.progress is None or running is None:
            return
        started = len(self.items)
        self.progress(
            Progress(
                planned=len(self.planned),
                started=started,
                finished=started - running,
                open_tasks=self.open_tasks,
                decided=len(self.report.decisions),
                elapsed_s=time.monotonic() - self.begun,
            )
        )

    # the people

    async def _people(self) -> None:
        """Looks at the open tasks of this run's processes; each new one (or new approval level)
        is taken in hand by a person of its roles."""
        while True:
            tasks = [t for t in await asyncio.to_thread(self._open) if t.process_id in self.items]
            self.open_tasks = len(tasks)
            for task in tasks:
                if (task.task_id, task.approval_level) not in self.seen:
                    self.seen.add((task.task_id, task.approval_level))
                    worker = asyncio.create_task(self._attend(task))
                    self.workers.add(worker)
                    worker.add_done_callback(self.workers.discard)
            await asyncio.sleep(POLL_S)

    def _open(self) -> list[_Task]:
        with Session(self.engine) as session:
            rows = session.exec(select(HumanTask).where(HumanTask.status == TaskStatus.OPEN.value))
            return [_Task.of(row) for row in rows]

    def _task(self, task_id: str) -> _Task | None:
        with Session(self.engine) as session:
            row = session.get(HumanTask, task_id)
            return _Task.of(row) if row else None

    async def _attend(self, task: _Task) -> None:
        item = self.items[task.process_id]
        record = self.report.processes[task.process_id]
        # Seeded by the task: the same month gets the same answers, whatever the timing.
        rng = random.Random(f"{self.plan.seed}/{item.key}/{task.name}/{task.approval_level}")
        if _draw(rng, self.plan.unanswered_share):
            record.unanswered.append(task.task_id)
            return
        escalates = self._escalates(task, item)
        delay = _delay(rng, task.kind, escalates, self.plan)
        answer = _answer(rng, task, item.truth)
        seen_at = time.monotonic()
        await asyncio.sleep(delay.total_seconds() / self.plan.compression)
        decided = await self._decide(rng, task, item, answer)
        if decided is None:
            record.missed.append(task.task_id)
            return
        by, escalated = decided
        record.decisions.append(
            Decision(
                task_id=task.task_id,
                task=task.name,
                kind=task.kind,
                outcome=answer.outcome,
                by=by,
                delay=delay,
                took=timedelta(seconds=(time.monotonic() - seen_at) * self.plan.compression),
                corrected=answer.corrected,
                level=task.approval_level,
                escalated=escalated,
                expected_escalation=escalates is not None and delay > escalates,
            )
        )

    def _escalates(self, task: _Task, item: Planned) -> timedelta | None:
        """The business time after which the task escalates: order approvals only."""
        order_approval = item.process_type == ORDER_FULFILLMENT.name and task.kind == "approval"
        return self.escalates if order_approval else None

    async def _decide(
        self, rng: random.Random, seen: _Task, item: Planned, answer: _Answer
    ) -> tuple[str, bool] | None:
        """Sends the decision as someone who may make it; when the workflow refuses the person
        (the task escalated meanwhile, or they decided an earlier level), another tries.
        Returns who decided and whether the task had escalated; None when it closed first."""
        refused: dict[tuple[str, ...], set[str]] = {}  # by the candidate roles they were
        until = time.monotonic() + DECIDE_WINDOW_S
        while time.monotonic() < until:
            task = await asyncio.to_thread(self._task, seen.task_id)
            if task is None or task.status != TaskStatus.OPEN.value:
                return None
            if task.approval_level != seen.approval_level:
                return None  # someone else decided this level (a retried earlier attempt)
            excluded = refused.setdefault(task.candidate_roles, set())
            who = _person(
                rng, task, item.requested_by, excluded | self.deciders.get(task.task_id, set())
            )
            if who is None:  # everyone was refused: the inbox may lag the workflow
                await asyncio.sleep(POLL_S)
                continue
            verdict = await self._send(task.task_id, who, answer)
            if verdict is None:
                return None
            if verdict.applied:
                self.deciders.setdefault(task.task_id, set()).add(who)
                return who, task.escalation_level > 0
            if verdict.status in (409, 422):  # closed, or a form nobody can fill this way
                return None
            excluded.add(who)
        return None

    async def _send(self, task_id: str, who: str, answer: _Answer) -> Verdict | None:
        action = TaskAction(
            action_id=f"simulate:{uuid.uuid4()}",
            kind=ActionKind.DECIDE,
            user=who,
            outcome=answer.outcome,
            comment=answer.comment,
            data=answer.data,
        )
        try:
            return await send_action(self.client, self.signer, task_id, action)
        except NoVerdictYet:  # a busy worker: the verdict comes later
            return await self._ledgered(task_id, action.action_id)
        except RPCError:  # the task's workflow has ended
            return None

    async def _ledgered(self, task_id: str, action_id: str) -> Verdict | None:
        """The verdict as the ledger records it: the task writes every decision it applies
        or refuses there before it answers, and reading it spares the busy worker a query.
        A refusal counts as 403: the caller reads the task again and sees if it closed."""
        until = time.monotonic() + LATE_VERDICT_S
        while time.monotonic() < until:
            row = await asyncio.to_thread(self._ledger_row, f"{task_id}:{action_id}")
            if row is not None:
                status = 200 if row.applied else 403
                return Verdict(
                    action_id=action_id, applied=row.applied, reason=row.reason, status=status
                )
            await asyncio.sleep(POLL_S)
        return None

    def _ledger_row(self, decision_id: str) -> LedgerRow | None:
        with Session(self.engine) as session:
            return session.exec(
                select(LedgerRow).where(LedgerRow.decision_id == decision_id)
            ).first()


def _order_policy(settings: Settings) -> OrderPolicy:
    policy = settings.policy_for(ORDER_FULFILLMENT)
    assert isinstance(policy, OrderPolicy)
    return policy


async def _bounded(calls: list[Coroutine[Any, Any, T]], limit: int) -> list[T]:
    """Awaits every call, at most `limit` at once: the frontend serves everyone else too."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Coroutine[Any, Any, T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


# -- entry points ---------------------------------------------------------------------------------


async def simulate(
    client: Client,
    settings: Settings,
    plan: Plan,
    progress: Callable[[Progress], None] | None = None,
) -> Report:
    """Runs the plan's month through the stack that `client` and `settings` reach, and
    reports what happened. Faults are injected into the sandbox for the run only."""
    batch = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(base_url=settings.systems_url, timeout=10) as sandbox:
        planned = _month(plan, settings, await _master_data(sandbox, settings), batch)
        engine = make_engine(settings.resolved_database_url)
        try:
            await asyncio.to_thread(ensure_people, engine)
            fast = compressed(settings, plan)
            simulation = _Simulation(client, fast, plan, planned, engine, progress, batch)
            async with _faults(sandbox, plan):
                return await simulation.run()
        finally:
            engine.dispose()


async def _master_data(sandbox: httpx.AsyncClient, settings: Settings) -> MasterData:
    try:
        (await sandbox.get("/health")).raise_for_status()
        return await fetch_master_data(sandbox)
    except httpx.HTTPError as exc:
        raise StackNotRunning(
            f"the systems sandbox at {settings.systems_url} does not answer ({exc}); "
            "start the stack with `make run` first"
        ) from exc


def _month(plan: Plan, settings: Settings, master: MasterData, batch: str) -> list[Planned]:
    """This run's month: it starts on this week's Monday, with the thresholds in force."""
    today = datetime.now(UTC).date()
    return plan_business(
        plan,
        master,
        batch=batch,
        first_day=today - timedelta(days=today.weekday()),
        approval_threshold=_order_policy(settings).approval_threshold,
    )


@contextlib.asynccontextmanager
async def _faults(sandbox: httpx.AsyncClient, plan: Plan) -> AsyncIterator[None]:
    """Transient 503s on the sandbox's ERP and CRM while the run lasts (the bots retry them)."""
    try:
        if plan.fault_rate > 0:
            for i, path in enumerate(FAULT_PATHS):
                rule = {"path": path, "error_rate": plan.fault_rate, "seed": plan.seed + i}
                (
                    await sandbox.post("/admin/faults", json=rule | {"status": 503})
                ).raise_for_status()
        yield
    finally:
        with contextlib.suppress(httpx.HTTPError):  # the run's own error matters more
            await sandbox.delete("/admin/faults")


BAR_WIDTH = 30


def show_progress(progress: Progress) -> None:
    """A progress bar of finished processes and the counts beside it, on one line of stderr,
    rewritten in place."""
    minutes, seconds = divmod(int(progress.elapsed_s), 60)
    done = progress.finished / progress.planned if progress.planned else 1.0
    filled = round(done * BAR_WIDTH)
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:4.0%}  {minutes}:{seconds:02d}  "
        f"started {progress.started}/{progress.planned}  finished {progress.finished}  "
        f"open tasks {progress.open_tasks}  decided {progress.decided}   "
    )
    sys.stderr.flush()


def run(plan: Plan, settings: Settings) -> Report:
    """The CLI's entry: connects to the running stack, simulates, shows progress."""

    async def main() -> Report:
        try:
            client = await connect(settings)
        except Exception as exc:  # the SDK raises RuntimeError, or a connection error
            raise StackNotRunning(
                f"Temporal at {settings.temporal_address} does not answer ({exc}); "
                "start the stack with `make run` first"
            ) from exc
        try:
            return await simulate(client, settings, plan, show_progress)
        finally:
            sys.stderr.write("\n")

    return asyncio.run(main())
