"""The catalogue of process types: what the API offers and how it starts each one."""

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from workflows.contracts.invoices import PROCESS_TYPE as INVOICE_PROCESSING
from workflows.contracts.invoices import InvoiceInput, InvoicePolicy, InvoiceRun
from workflows.contracts.orders import PROCESS_TYPE as ORDER_FULFILLMENT
from workflows.contracts.orders import OrderInput, OrderPolicy, OrderRun
from workflows.contracts.queues import Queues
from workflows.contracts.roles import Role


@dataclass(frozen=True)
class StartContext:
    """What the API knows besides the input when it starts a process."""

    business_key: str
    requested_by: str
    queues: Queues
    order_policy: OrderPolicy
    invoice_policy: InvoicePolicy


@dataclass(frozen=True)
class ProcessType:
    name: str
    workflow: str  # the workflow type name in Temporal
    description: str
    roles: tuple[Role, ...]
    input_model: type[BaseModel]
    key_prefix: str  # business keys read like SO-7F3A9C21D0
    make_run: Callable[[BaseModel, StartContext], BaseModel]
    summary: Callable[[BaseModel], str]  # the run's title in the Temporal UI
    customer: Callable[[BaseModel], str]


def _order_run(order: BaseModel, context: StartContext) -> BaseModel:
    assert isinstance(order, OrderInput)
    return OrderRun(
        order=order,
        business_key=context.business_key,
        requested_by=context.requested_by,
        policy=context.order_policy,
        queues=context.queues,
    )


def _order_summary(order: BaseModel) -> str:
    assert isinstance(order, OrderInput)
    what = f"{len(order.lines)} lines" if order.lines else "a free-text message"
    return f"Order from {order.customer_id}: {what} ({order.priority.value})"


def _order_customer(order: BaseModel) -> str:
    assert isinstance(order, OrderInput)
    return order.customer_id


def _invoice_run(invoice: BaseModel, context: StartContext) -> BaseModel:
    assert isinstance(invoice, InvoiceInput)
    return InvoiceRun(
        invoice=invoice,
        business_key=context.business_key,
        requested_by=context.requested_by,
        policy=context.invoice_policy,
        queues=context.queues,
    )


def _invoice_summary(invoice: BaseModel) -> str:
    assert isinstance(invoice, InvoiceInput)
    return f"Invoice from {invoice.vendor_id or 'an unknown vendor'}"


def _invoice_vendor(invoice: BaseModel) -> str:
    assert isinstance(invoice, InvoiceInput)
    return invoice.vendor_id or ""


PROCESS_TYPES: dict[str, ProcessType] = {
    ORDER_FULFILLMENT: ProcessType(
        name=ORDER_FULFILLMENT,
        workflow="OrderFulfillment",
        description=(
            "A customer's message or order lines become an order: AI reads it, finance checks "
            "credit and risk, a sales manager approves large or risky orders, then stock is "
            "reserved, production scheduled and the forecast booked in parallel, and the "
            "customer is told the delivery date."
        ),
        roles=(Role.SALES_REP, Role.SALES_MANAGER, Role.FINANCE_CONTROLLER),
        input_model=OrderInput,
        key_prefix="SO",
        make_run=_order_run,
        summary=_order_summary,
        customer=_order_customer,
    ),
    INVOICE_PROCESSING: ProcessType(
        name=INVOICE_PROCESSING,
        workflow="InvoiceProcessing",
        description=(
            "A vendor's invoice (text) is paid: AI extracts it, an AP clerk reviews weak "
            "extractions, duplicates are caught, a three-way match checks it against the purchase "
            "order and goods receipts, finance approves by amount, and the payment is scheduled "
            "for the due date and released then."
        ),
        roles=(Role.AP_CLERK, Role.FINANCE_CONTROLLER, Role.ADMIN),
        input_model=InvoiceInput,
        key_prefix="INV",
        make_run=_invoice_run,
        summary=_invoice_summary,
        customer=_invoice_vendor,
    ),
}
