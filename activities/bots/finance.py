"""The finance bot: credit, the revenue forecast, invoices and payments."""

from temporalio import activity

from activities.bots.http import SystemsHTTP
from workflows.contracts.bots import (
    AddForecast,
    BotActivity,
    CustomerCredit,
    CustomerRequest,
    ForecastEntry,
    InvoiceRegistered,
    OverduePayables,
    OverduePayablesRequest,
    Payment,
    PaymentRequest,
    RegisterInvoice,
    RevertForecast,
    SchedulePayment,
)


def _entry(body: dict[str, object]) -> ForecastEntry:
    return ForecastEntry.model_validate({**body, "entry_id": body["id"]})


def _payment(body: dict[str, object]) -> Payment:
    return Payment.model_validate({**body, "payment_id": body["id"]})


class FinanceBot:
    def __init__(self, http: SystemsHTTP) -> None:
        self.http = http

    @activity.defn(name=BotActivity.GET_CUSTOMER)
    async def get_customer_credit(self, request: CustomerRequest) -> CustomerCredit:
        return CustomerCredit.model_validate(
            await self.http.get(f"/finance/credit/{request.customer_id}")
        )

    @activity.defn(name=BotActivity.ADD_FORECAST)
    async def add_forecast(self, request: AddForecast) -> ForecastEntry:
        return _entry(await self.http.write("/finance/forecast-entries", request.model_dump()))

    @activity.defn(name=BotActivity.REVERT_FORECAST)
    async def revert_forecast(self, request: RevertForecast) -> ForecastEntry:
        return _entry(await self.http.write(f"/finance/forecast-entries/{request.entry_id}/revert"))

    @activity.defn(name=BotActivity.REGISTER_INVOICE)
    async def register_invoice(self, request: RegisterInvoice) -> InvoiceRegistered:
        created = await self.http.write("/finance/invoices", request.model_dump(mode="json"))
        return InvoiceRegistered(invoice_id=created["id"])

    @activity.defn(name=BotActivity.SCHEDULE_PAYMENT)
    async def schedule_payment(self, request: SchedulePayment) -> Payment:
        return _payment(await self.http.write("/finance/payments", request.model_dump(mode="json")))

    @activity.defn(name=BotActivity.RELEASE_PAYMENT)
    async def release_payment(self, request: PaymentRequest) -> Payment:
        return _payment(await self.http.write(f"/finance/payments/{request.payment_id}/release"))

    @activity.defn(name=BotActivity.CANCEL_PAYMENT)
    async def cancel_payment(self, request: PaymentRequest) -> Payment:
        return _payment(await self.http.write(f"/finance/payments/{request.payment_id}/cancel"))

    @activity.defn(name=BotActivity.LIST_OVERDUE_PAYABLES)
    async def list_overdue_payables(self, request: OverduePayablesRequest) -> OverduePayables:
        return OverduePayables.model_validate(
            await self.http.get("/finance/payables/overdue", **request.model_dump(mode="json"))
        )
