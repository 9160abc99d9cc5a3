"""ERP: products and stock, reservations (reserve, release), purchase orders, goods receipts."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from systems.deps import ReadSession, Write, get_or_404
from systems.store import SandboxError
from systems.tables import Product, PurchaseOrder, Reservation, Vendor

router = APIRouter(prefix="/erp", tags=["erp"])


class LineIn(BaseModel):
    sku: str
    quantity: int = Field(gt=0, le=1_000_000)


class ReservationIn(BaseModel):
    order_ref: str = Field(min_length=1, max_length=200)
    lines: list[LineIn] = Field(min_length=1, max_length=200)


class QuantityIn(BaseModel):
    quantity: int = Field(gt=0, le=1_000_000)


class GoodsReceiptIn(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


@router.get("/products")
def list_products(session: ReadSession) -> list[Product]:
    return list(session.exec(select(Product).order_by(Product.sku)).all())


@router.get("/vendors")
def list_vendors(session: ReadSession) -> list[Vendor]:
    return list(session.exec(select(Vendor).order_by(Vendor.vendor_id)).all())


@router.get("/products/{sku}")
def get_product(sku: str, session: ReadSession) -> Product:
    product: Product = get_or_404(session, Product, sku, "sku")
    return product


@router.post("/reservations", status_code=201)
def reserve(body: ReservationIn, write: Write) -> JSONResponse:
    """Reserves what is in stock for each line; the rest is reported as a shortfall."""

    def change(session: Session) -> Reservation:
        products = {line.sku: session.get(Product, line.sku) for line in body.lines}
        unknown = sorted(sku for sku, product in products.items() if product is None)
        if unknown:
            raise SandboxError(
                422, "unknown_sku", f"unknown SKU: {', '.join(unknown)}", skus=unknown
            )
        lines: list[dict[str, Any]] = []
        for line in body.lines:
            product = products[line.sku]
            assert product is not None
            reserved = min(product.stock, line.quantity)
            product.stock -= reserved
            session.add(product)
            lines.append(
                {
                    "sku": line.sku,
                    "requested": line.quantity,
                    "reserved": reserved,
                    "shortfall": line.quantity - reserved,
                }
            )
        reservation = Reservation(order_ref=body.order_ref, lines=lines)
        session.add(reservation)
        session.flush()
        return reservation

    return write(body, change)


@router.get("/reservations")
def find_reservations(order_ref: str, session: ReadSession) -> list[Reservation]:
    """The reservations made for one order, oldest first."""
    query = select(Reservation).where(Reservation.order_ref == order_ref)
    return list(session.exec(query.order_by(col(Reservation.id))).all())


@router.get("/reservations/{reservation_id}")
def get_reservation(reservation_id: int, session: ReadSession) -> Reservation:
    reservation: Reservation = get_or_404(session, Reservation, reservation_id, "reservation")
    return reservation


@router.post("/reservations/{reservation_id}/release")
def release(reservation_id: int, write: Write) -> JSONResponse:
    """Puts the reserved stock back; releasing twice is refused (409 already_released)."""

    def change(session: Session) -> Reservation:
        reservation: Reservation = get_or_404(session, Reservation, reservation_id, "reservation")
        if reservation.status == "released":
            raise SandboxError(
                409, "already_released", f"reservation {reservation_id} is already released"
            )
        for line in reservation.lines:
            product = session.get(Product, line["sku"])
            assert product is not None
            product.stock += int(str(line["reserved"]))
            session.add(product)
        reservation.status = "released"
        reservation.released_at = datetime.now(UTC)
        session.add(reservation)
        return reservation

    return write({"reservation_id": reservation_id}, change, status_code=200)


@router.post("/reservations/{reservation_id}/lines/{sku}")
def change_quantity(reservation_id: int, sku: str, body: QuantityIn, write: Write) -> JSONResponse:
    """Sets the quantity a line asks for: more is reserved from stock where there is some (the
    rest is a shortfall), less puts the difference back. Refused on a released reservation
    (409 already_released) and for a SKU not on it (422 sku_not_reserved)."""

    def change(session: Session) -> Reservation:
        reservation: Reservation = get_or_404(session, Reservation, reservation_id, "reservation")
        if reservation.status == "released":
            raise SandboxError(
                409, "already_released", f"reservation {reservation_id} is already released"
            )
        lines = [dict(line) for line in reservation.lines]
        line = next((line for line in lines if line["sku"] == sku), None)
        if line is None:
            raise SandboxError(
                422, "sku_not_reserved", f"{sku} is not on reservation {reservation_id}"
            )
        product = session.get(Product, sku)
        assert product is not None
        held = int(str(line["reserved"]))
        reserved = min(body.quantity, held + product.stock)
        product.stock -= reserved - held
        line.update(requested=body.quantity, reserved=reserved, shortfall=body.quantity - reserved)
        reservation.lines = lines  # a new list, so the JSON column is saved
        session.add_all([product, reservation])
        return reservation

    request = {"reservation_id": reservation_id, "sku": sku, **body.model_dump()}
    return write(request, change, status_code=200)


@router.get("/purchase-orders/{po_number}")
def get_purchase_order(po_number: str, session: ReadSession) -> PurchaseOrder:
    po: PurchaseOrder = get_or_404(session, PurchaseOrder, po_number, "purchase_order")
    return po


@router.get("/purchase-orders/{po_number}/goods-receipts")
def goods_receipts(po_number: str, session: ReadSession) -> list[dict[str, Any]]:
    """What has been received against each line of the purchase order."""
    po: PurchaseOrder = get_or_404(session, PurchaseOrder, po_number, "purchase_order")
    return [{"sku": line["sku"], "quantity": line["received"]} for line in po.lines]


@router.post("/purchase-orders/{po_number}/goods-receipts", status_code=201)
def receive_goods(po_number: str, body: GoodsReceiptIn, write: Write) -> JSONResponse:
    def change(session: Session) -> PurchaseOrder:
        po: PurchaseOrder = get_or_404(session, PurchaseOrder, po_number, "purchase_order")
        lines = [dict(line) for line in po.lines]
        line = next((line for line in lines if line["sku"] == body.sku), None)
        if line is None:
            raise SandboxError(422, "sku_not_on_order", f"{body.sku} is not on {po_number}")
        line["received"] = int(str(line["received"])) + body.quantity
        po.lines = lines  # a new list, so the JSON column is saved
        session.add(po)
        return po

    return write({"po_number": po_number, **body.model_dump()}, change)
