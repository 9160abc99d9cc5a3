"""Finance: credit exposure and limits, revenue forecast, invoices and scheduled payments."""

from datetime import date, timedelta

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from systems.deps import ReadSession, Write, get_or_404
from systems.store import SandboxError
from systems.tables import Customer, ForecastEntry, Invoice, Payment, Vendor

router = APIRouter(prefix="/finance", tags=["finance"])


class Credit(BaseModel):
    customer_id: str
    credit_limit: float
    exposure: float
    available: float
    orders_count: int
    late_payments: int


class ForecastIn(BaseModel):
    order_ref: str = Field(min_length=1, max_length=200)
    customer_id: str
    amount: float = Field(gt=0)
    period: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM", examples=["2026-12"])


class InvoiceIn(BaseModel):
    vendor_id: str
    invoice_number: str = Field(min_length=1, max_length=100)
    po_number: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total: float = Field(gt=0)
    due_date: date | None = None


class PaymentIn(BaseModel):
    invoice_id: int
    amount: float = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    pay_on: date


def _credit(customer: Customer) -> Credit:
    return Credit(
        customer_id=customer.customer_id,
        credit_limit=customer.credit_limit,
        exposure=customer.exposure,
        available=round(customer.credit_limit - customer.exposure, 2),
        orders_count=customer.orders_count,
        late_payments=customer.late_payments,
    )


@router.get("/credit/{customer_id}")
def credit(customer_id: str, session: ReadSession) -> Credit:
    return _credit(get_or_404(session, Customer, customer_id, "customer"))


@router.post("/forecast-entries", status_code=201)
def add_forecast(body: ForecastIn, write: Write) -> JSONResponse:
    """Books expected revenue; the order's amount counts against the customer's credit."""

    def change(session: Session) -> ForecastEntry:
        customer: Customer = get_or_404(session, Customer, body.customer_id, "customer")
        if customer.exposure + body.amount > customer.credit_limit:
            raise SandboxError(
                422,
                "credit_limit_exceeded",
                f"{customer.customer_id} would exceed its credit limit",
                credit=_credit(customer).model_dump(),
                amount=body.amount,
            )
        customer.exposure = round(customer.exposure + body.amount, 2)
        customer.orders_count += 1
        entry = ForecastEntry(**body.model_dump())
        session.add_all([customer, entry])
        session.flush()
        return entry

    return write(body, change)


@router.get("/forecast-entries")
def list_forecast(session: ReadSession, order_ref: str | None = None) -> list[ForecastEntry]:
    query = select(ForecastEntry)
    if order_ref:
        query = query.where(ForecastEntry.order_ref == order_ref)
    return list(session.exec(query).all())


@router.post("/forecast-entries/{entry_id}/revert")
def revert_forecast(entry_id: int, write: Write) -> JSONResponse:
    def change(session: Session) -> ForecastEntry:
        entry: ForecastEntry = get_or_404(session, ForecastEntry, entry_id, "forecast_entry")
        if entry.status == "reverted":
            raise SandboxError(409, "already_reverted", f"forecast entry {entry_id} is reverted")
        customer = session.get(Customer, entry.customer_id)
        assert customer is not None
        customer.exposure = round(customer.exposure - entry.amount, 2)
        customer.orders_count -= 1
        entry.status = "reverted"
        session.add_all([customer, entry])
        return entry

    return write({"entry_id": entry_id}, change, status_code=200)


@router.post("/invoices", status_code=201)
def register_invoice(body: InvoiceIn, write: Write) -> JSONResponse:
    def change(session: Session) -> Invoice:
        get_or_404(session, Vendor, body.vendor_id, "vendor")
        first = session.exec(
            select(Invoice).where(
                Invoice.vendor_id == body.vendor_id, Invoice.invoice_number == body.invoice_number
            )
        ).first()
        if first is not None:
            raise SandboxError(
                409,
                "duplicate_invoice",
                f"invoice {body.invoice_number} of {body.vendor_id} is already registered",
                invoice_id=first.id,
            )
        invoice = Invoice(**body.model_dump())
        session.add(invoice)
        session.flush()
        return invoice

    return write(body, change)


@router.get("/invoices/{invoice_id}")
def get_invoice(invoice_id: int, session: ReadSession) -> Invoice:
    invoice: Invoice = get_or_404(session, Invoice, invoice_id, "invoice")
    return invoice


class OverduePayable(BaseModel):
    invoice_id: int
    vendor_id: str
    invoice_number: str
    po_number: str | None
    currency: str
    total: float
    due_date: date
    days_overdue: int
    payment_status: str | None = Field(description="a scheduled payment not yet released")
    pay_on: date | None


class OverduePayables(BaseModel):
    as_of: date
    count: int = Field(description="all that are overdue; `invoices` holds the first `limit`")
    totals: dict[str, float] = Field(description="what all of them owe, per currency")
    invoices: list[OverduePayable]


@router.get("/payables/overdue")
def overdue_payables(
    session: ReadSession,
    as_of: date,
    grace_days: int = Query(0, ge=0, le=365),
    limit: int = Query(100, ge=1, le=1000),
) -> OverduePayables:
    """Invoices more than `grace_days` past their due date on `as_of` that no released payment
    settles, the longest overdue first (a payment scheduled but not yet released is shown with
    them)."""
    released = select(Payment.invoice_id).where(Payment.status == "released")
    due_before = as_of - timedelta(days=grace_days)
    due = (
        select(Invoice)
        .where(col(Invoice.due_date).is_not(None), col(Invoice.due_date) < due_before)
        .where(col(Invoice.id).not_in(released))
        .order_by(col(Invoice.due_date), col(Invoice.id))
    )
    found = session.exec(due).all()
    pending = {
        payment.invoice_id: payment
        for payment in session.exec(
            select(Payment).where(
                Payment.status == "scheduled",
                col(Payment.invoice_id).in_([i.id for i in found[:limit]]),
            )
        )
    }
    listed = []
    for invoice in found[:limit]:
        payment = pending.get(invoice.id or 0)
        listed.append(
            OverduePayable(
                **invoice.model_dump(exclude={"id", "created_at"}),
                invoice_id=invoice.id or 0,
                days_overdue=(as_of - (invoice.due_date or as_of)).days,
                payment_status=payment.status if payment else None,
                pay_on=payment.pay_on if payment else None,
            )
        )
    totals: dict[str, float] = {}
    for invoice in found:
        totals[invoice.currency] = round(totals.get(invoice.currency, 0.0) + invoice.total, 2)
    return OverduePayables(as_of=as_of, count=len(found), totals=totals, invoices=listed)


@router.post("/payments", status_code=201)
def schedule_payment(body: PaymentIn, write: Write) -> JSONResponse:
    def change(session: Session) -> Payment:
        get_or_404(session, Invoice, body.invoice_id, "invoice")
        payment = Payment(**body.model_dump())
        session.add(payment)
        session.flush()
        return payment

    return write(body, change)


@router.get("/payments/{payment_id}")
def get_payment(payment_id: int, session: ReadSession) -> Payment:
    payment: Payment = get_or_404(session, Payment, payment_id, "payment")
    return payment


def _move_payment(write: Write, payment_id: int, to: str) -> JSONResponse:
    """Scheduled payments are released or cancelled, once; any other move is a 409."""

    def change(session: Session) -> Payment:
        payment: Payment = get_or_404(session, Payment, payment_id, "payment")
        if payment.status != "scheduled":
            raise SandboxError(
                409, f"payment_{payment.status}", f"payment {payment_id} is {payment.status}"
            )
        payment.status = to
        session.add(payment)
        return payment

    return write({"payment_id": payment_id, "to": to}, change, status_code=200)


@router.post("/payments/{payment_id}/release")
def release_payment(payment_id: int, write: Write) -> JSONResponse:
    return _move_payment(write, payment_id, "released")


@router.post("/payments/{payment_id}/cancel")
def cancel_payment(payment_id: int, write: Write) -> JSONResponse:
    return _move_payment(write, payment_id, "cancelled")
