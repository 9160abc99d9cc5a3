"""Requests and results of the bot activities: the business systems' data as processes see it."""

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from workflows.contracts.departments import Department


class Refusal(BaseModel):
    """A business system said no (a 4xx: unknown customer, credit limit exceeded, ...). The bot
    fails with a non-retryable ApplicationError whose type is the system's error code and whose
    details are this; a process that does not handle it ends `rejected`, not `failed`."""

    status: int = Field(ge=400, le=499)
    details: Any = None

    def is_business_no(self, code: str) -> bool:
        """Unknown record, conflict, rule broken: the business says no. A 400, 401 or 403, or
        an error without the system's own code (a wrong path), is Baton's fault: a failure."""
        return self.status in (404, 409, 422) and bool(code) and not code.startswith("http_")


class BotActivity(StrEnum):
    """Activity names, so workflows call bots by name without importing their code."""

    CAPTURE_INTERACTION = "crm.capture_interaction"
    RECORD_OUTCOME = "crm.record_outcome"
    FIND_CUSTOMER_ORDERS = "crm.find_customer_orders"
    GET_CUSTOMER = "finance.get_customer_credit"
    GET_CATALOGUE = "erp.get_catalogue"
    RESERVE_STOCK = "erp.reserve_stock"
    RELEASE_STOCK = "erp.release_stock"
    FIND_RESERVATIONS = "erp.find_reservations"
    CHANGE_RESERVED_QUANTITY = "erp.change_reserved_quantity"
    GET_PURCHASE_ORDER = "erp.get_purchase_order"
    GET_VENDORS = "erp.get_vendors"
    SCHEDULE_PRODUCTION = "mes.schedule_production"
    CANCEL_PRODUCTION = "mes.cancel_production"
    FIND_PRODUCTION_ORDERS = "mes.find_production_orders"
    ADD_FORECAST = "finance.add_forecast"
    REVERT_FORECAST = "finance.revert_forecast"
    REGISTER_INVOICE = "finance.register_invoice"
    SCHEDULE_PAYMENT = "finance.schedule_payment"
    RELEASE_PAYMENT = "finance.release_payment"
    CANCEL_PAYMENT = "finance.cancel_payment"
    LIST_OVERDUE_PAYABLES = "finance.list_overdue_payables"
    NOTIFY = "notifications.send"


# The department that owns each business system: a bot step's department is its system's.
SYSTEM_DEPARTMENTS: dict[str, Department] = {
    "crm": Department.SALES,
    "erp": Department.INVENTORY,
    "mes": Department.PRODUCTION,
    "finance": Department.FINANCE,
}


def bot_department(activity: str) -> str:
    """A bot step's department, its system's ("erp.reserve_stock": inventory); "" for a
    system every department uses (notifications): the step counts for its process's."""
    department = SYSTEM_DEPARTMENTS.get(activity.split(".", 1)[0])
    return department.value if department else ""


class OrderLine(BaseModel):
    sku: str = Field(min_length=1, max_length=50)
    quantity: int = Field(gt=0, le=1_000_000)


# -- CRM ----------------------------------------------------------------------------------------


class CaptureInteraction(BaseModel):
    customer_id: str
    channel: Literal["email", "chat", "phone", "web", "api"] = "api"
    kind: str = "order"
    text: str
    ref: str | None = None


class InteractionRecorded(BaseModel):
    interaction_id: int


class RecordOutcome(BaseModel):
    interaction_id: int
    outcome: str


class CustomerOrdersRequest(BaseModel):
    customer_id: str


class CustomerOrders(BaseModel):
    """The orders the CRM has captured for a customer, by their business keys."""

    order_refs: list[str]


# -- ERP ----------------------------------------------------------------------------------------


class CatalogueRequest(BaseModel):
    pass


class Product(BaseModel):
    sku: str
    name: str
    unit_price: float
    stock: int
    lead_time_days: int = 0


class Catalogue(BaseModel):
    products: list[Product]


class ReserveStock(BaseModel):
    order_ref: str
    lines: list[OrderLine] = Field(min_length=1)


class ReservedLine(BaseModel):
    sku: str
    requested: int
    reserved: int
    shortfall: int


class Reservation(BaseModel):
    reservation_id: int
    lines: list[ReservedLine]
    status: str = "active"


class ReleaseStock(BaseModel):
    reservation_id: int


class FindReservations(BaseModel):
    order_ref: str = Field(min_length=1, max_length=200, description="the order, e.g. SO-1A2B3C")


class Reservations(BaseModel):
    reservations: list[Reservation]


class ChangeReservedQuantity(BaseModel):
    reservation_id: int = Field(ge=1)
    sku: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    quantity: int = Field(gt=0, le=1_000_000, description="the new quantity the line asks for")


class VendorsRequest(BaseModel):
    pass


class Vendor(BaseModel):
    vendor_id: str
    name: str
    payment_terms_days: int


class Vendors(BaseModel):
    vendors: list[Vendor]


class PurchaseOrderRequest(BaseModel):
    po_number: str


class PurchaseOrderLine(BaseModel):
    sku: str
    quantity: int
    unit_price: float
    received: int


class PurchaseOrder(BaseModel):
    po_number: str
    vendor_id: str
    currency: str
    lines: list[PurchaseOrderLine]


# -- MES ----------------------------------------------------------------------------------------


class ScheduleProduction(BaseModel):
    order_ref: str
    sku: str
    quantity: int = Field(gt=0)


class ProductionOrder(BaseModel):
    production_order_id: int
    sku: str
    quantity: int
    completion_date: date
    status: str = "scheduled"


class FindProductionOrders(BaseModel):
    order_ref: str = Field(min_length=1, max_length=200, description="the order, e.g. SO-1A2B3C")


class ProductionOrders(BaseModel):
    production_orders: list[ProductionOrder]


class CancelProduction(BaseModel):
    production_order_id: int


# -- Finance ------------------------------------------------------------------------------------


class CustomerRequest(BaseModel):
    customer_id: str


class CustomerCredit(BaseModel):
    customer_id: str
    credit_limit: float
    exposure: float
    available: float
    orders_count: int = 0
    late_payments: int = 0


class AddForecast(BaseModel):
    order_ref: str
    customer_id: str
    amount: float = Field(gt=0)
    period: str = Field(pattern=r"^\d{4}-\d{2}$")


class ForecastEntry(BaseModel):
    entry_id: int
    amount: float
    status: str = "active"


class RevertForecast(BaseModel):
    entry_id: int


class RegisterInvoice(BaseModel):
    vendor_id: str
    invoice_number: str
    po_number: str | None = None
    currency: str
    total: float
    due_date: date | None = None


class InvoiceRegistered(BaseModel):
    invoice_id: int


class SchedulePayment(BaseModel):
    invoice_id: int
    amount: float
    currency: str
    pay_on: date


class Payment(BaseModel):
    payment_id: int
    status: str
    pay_on: date


class PaymentRequest(BaseModel):
    payment_id: int


class OverduePayablesRequest(BaseModel):
    as_of: date
    grace_days: int = Field(0, ge=0, le=365)  # only invoices more than this many days late
    limit: int = Field(100, ge=1, le=1000)


class OverduePayable(BaseModel):
    invoice_id: int
    vendor_id: str
    invoice_number: str
    po_number: str | None = None
    currency: str
    total: float
    due_date: date
    days_overdue: int
    payment_status: str | None = None  # a payment scheduled but not yet released
    pay_on: date | None = None


class OverduePayables(BaseModel):
    as_of: date
    count: int  # all that are overdue; `invoices` holds the first `limit`
    totals: dict[str, float]  # what all of them owe, per currency
    invoices: list[OverduePayable]


# -- Notifications ------------------------------------------------------------------------------


class Notify(BaseModel):
    recipient: str
    channel: Literal["email", "sms", "chat", "inbox"] = "email"
    subject: str
    body: str = ""
    ref: str | None = None


class Notified(BaseModel):
    notification_id: int
