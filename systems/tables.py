"""The sandbox's tables, on a metadata of their own so they never land in Baton's database."""

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


def now() -> datetime:
    return datetime.now(UTC)


class SandboxTable(SQLModel, registry=registry()):
    pass


class Customer(SandboxTable, table=True):
    customer_id: str = Field(primary_key=True)
    name: str
    segment: str
    credit_limit: float
    exposure: float = 0.0  # open orders and unpaid invoices
    orders_count: int = 0
    late_payments: int = 0


class Interaction(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.customer_id", index=True)
    channel: str
    kind: str
    text: str
    ref: str | None = None
    outcome: str | None = None
    created_at: datetime = Field(default_factory=now)


class Note(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.customer_id", index=True)
    text: str
    ref: str | None = None
    created_at: datetime = Field(default_factory=now)


class Product(SandboxTable, table=True):
    sku: str = Field(primary_key=True)
    name: str
    unit_price: float
    stock: int
    lead_time_days: int


class Reservation(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_ref: str = Field(index=True)
    status: str = "active"  # active | released
    lines: list[dict[str, object]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=now)
    released_at: datetime | None = None


class PurchaseOrder(SandboxTable, table=True):
    po_number: str = Field(primary_key=True)
    vendor_id: str = Field(index=True)
    currency: str
    # [{"sku", "quantity", "unit_price", "received"}]
    lines: list[dict[str, object]] = Field(sa_column=Column(JSON, nullable=False))


class Vendor(SandboxTable, table=True):
    vendor_id: str = Field(primary_key=True)
    name: str
    payment_terms_days: int


class ProductionOrder(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_ref: str = Field(index=True)
    sku: str = Field(foreign_key="product.sku")
    quantity: int
    status: str = "scheduled"  # scheduled | cancelled
    completion_date: date
    created_at: datetime = Field(default_factory=now)


class ForecastEntry(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_ref: str = Field(index=True)
    customer_id: str = Field(foreign_key="customer.customer_id")
    amount: float
    period: str
    status: str = "active"  # active | reverted
    created_at: datetime = Field(default_factory=now)


class Invoice(SandboxTable, table=True):
    __table_args__ = (UniqueConstraint("vendor_id", "invoice_number"),)

    id: int | None = Field(default=None, primary_key=True)
    vendor_id: str = Field(foreign_key="vendor.vendor_id")
    invoice_number: str
    po_number: str | None = None
    currency: str
    total: float
    due_date: date | None = None
    created_at: datetime = Field(default_factory=now)


class Payment(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount: float
    currency: str
    pay_on: date
    status: str = "scheduled"  # scheduled | released | cancelled
    created_at: datetime = Field(default_factory=now)


class Notification(SandboxTable, table=True):
    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(index=True)
    channel: str
    subject: str
    body: str
    ref: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=now)


class IdempotencyRecord(SandboxTable, table=True):
    """The first response to a write, replayed for every later request with the same key."""

    scope: str = Field(primary_key=True)  # "POST /erp/reservations"
    key: str = Field(primary_key=True)
    request_hash: str
    status_code: int
    body: dict[str, object] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=now)
