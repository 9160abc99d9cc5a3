"""MES: production orders scheduled against a daily capacity, and their cancellation."""

from datetime import date, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select

from systems.deps import ReadSession, Write, get_or_404
from systems.store import SandboxError
from systems.tables import Product, ProductionOrder

router = APIRouter(prefix="/mes", tags=["mes"])

# Units the plant finishes per day across all open production orders.
DAILY_CAPACITY = 200


class ProductionOrderIn(BaseModel):
    order_ref: str = Field(min_length=1, max_length=200)
    sku: str
    quantity: int = Field(gt=0, le=100_000)


class Capacity(BaseModel):
    daily_capacity: int
    queued_units: int
    backlog_days: int


def _queued_units(session: Session) -> int:
    query = select(func.coalesce(func.sum(ProductionOrder.quantity), 0)).where(
        ProductionOrder.status == "scheduled"
    )
    return int(session.exec(query).one())


@router.get("/capacity")
def capacity(session: ReadSession) -> Capacity:
    queued = _queued_units(session)
    return Capacity(
        daily_capacity=DAILY_CAPACITY,
        queued_units=queued,
        backlog_days=-(-queued // DAILY_CAPACITY),
    )


@router.post("/production-orders", status_code=201)
def schedule(body: ProductionOrderIn, write: Write) -> JSONResponse:
    """Completion = today + material lead time + the days the queue ahead of it needs."""

    def change(session: Session) -> ProductionOrder:
        product: Product = get_or_404(session, Product, body.sku, "sku")
        queue_days = -(-(_queued_units(session) + body.quantity) // DAILY_CAPACITY)
        order = ProductionOrder(
            **body.model_dump(),
            completion_date=date.today() + timedelta(days=product.lead_time_days + queue_days),
        )
        session.add(order)
        session.flush()
        return order

    return write(body, change)


@router.get("/production-orders")
def list_orders(session: ReadSession, order_ref: str | None = None) -> list[ProductionOrder]:
    query = select(ProductionOrder).order_by(col(ProductionOrder.id))
    if order_ref:
        query = query.where(ProductionOrder.order_ref == order_ref)
    return list(session.exec(query).all())


@router.get("/production-orders/{order_id}")
def get_order(order_id: int, session: ReadSession) -> ProductionOrder:
    order: ProductionOrder = get_or_404(session, ProductionOrder, order_id, "production_order")
    return order


@router.post("/production-orders/{order_id}/cancel")
def cancel(order_id: int, write: Write) -> JSONResponse:
    def change(session: Session) -> ProductionOrder:
        order: ProductionOrder = get_or_404(session, ProductionOrder, order_id, "production_order")
        if order.status == "cancelled":
            raise SandboxError(
                409, "already_cancelled", f"production order {order_id} is cancelled"
            )
        order.status = "cancelled"
        session.add(order)
        return order

    return write({"order_id": order_id}, change, status_code=200)
