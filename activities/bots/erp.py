"""The ERP bot: the catalogue, stock reservations, purchase orders and goods receipts."""

from urllib.parse import quote

from temporalio import activity

from activities.bots.http import SystemsHTTP
from workflows.contracts.bots import (
    BotActivity,
    Catalogue,
    CatalogueRequest,
    ChangeReservedQuantity,
    FindReservations,
    PurchaseOrder,
    PurchaseOrderRequest,
    ReleaseStock,
    Reservation,
    Reservations,
    ReserveStock,
    Vendors,
    VendorsRequest,
)


def _reservation(body: dict[str, object]) -> Reservation:
    return Reservation.model_validate({**body, "reservation_id": body["id"]})


class ERPBot:
    def __init__(self, http: SystemsHTTP) -> None:
        self.http = http

    @activity.defn(name=BotActivity.GET_CATALOGUE)
    async def get_catalogue(self, _request: CatalogueRequest) -> Catalogue:
        return Catalogue(products=await self.http.get("/erp/products"))

    @activity.defn(name=BotActivity.GET_VENDORS)
    async def get_vendors(self, _request: VendorsRequest) -> Vendors:
        return Vendors(vendors=await self.http.get("/erp/vendors"))

    @activity.defn(name=BotActivity.RESERVE_STOCK)
    async def reserve_stock(self, request: ReserveStock) -> Reservation:
        return _reservation(await self.http.write("/erp/reservations", request.model_dump()))

    @activity.defn(name=BotActivity.RELEASE_STOCK)
    async def release_stock(self, request: ReleaseStock) -> Reservation:
        path = f"/erp/reservations/{request.reservation_id}/release"
        return _reservation(await self.http.write(path))

    @activity.defn(name=BotActivity.FIND_RESERVATIONS)
    async def find_reservations(self, request: FindReservations) -> Reservations:
        found = await self.http.get("/erp/reservations", order_ref=request.order_ref)
        return Reservations(reservations=[_reservation(body) for body in found])

    @activity.defn(name=BotActivity.CHANGE_RESERVED_QUANTITY)
    async def change_reserved_quantity(self, request: ChangeReservedQuantity) -> Reservation:
        sku = quote(request.sku, safe="")  # a path segment, whatever a model wrote
        path = f"/erp/reservations/{request.reservation_id}/lines/{sku}"
        return _reservation(await self.http.write(path, {"quantity": request.quantity}))

    @activity.defn(name=BotActivity.GET_PURCHASE_ORDER)
    async def get_purchase_order(self, request: PurchaseOrderRequest) -> PurchaseOrder:
        return PurchaseOrder.model_validate(
            await self.http.get(f"/erp/purchase-orders/{request.po_number}")
        )
