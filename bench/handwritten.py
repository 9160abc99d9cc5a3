"""The order steps of an auto-approved structured order, hand-written on bare `temporalio`: the
baseline bench/order_throughput.py holds Baton to. No Baton code: stdlib, temporalio and httpx.

It makes the calls Baton's bots make for such an order, in the same order, against the same
sandbox endpoints, with the same bodies, headers and idempotency keys (workflow id, run id and
activity id: stable across the retries of one step, distinct for every other step or run):

    POST /crm/interactions                       capture the interaction
    GET  /erp/products                           read the catalogue (prices)
    GET  /finance/credit/{customer}              check credit
    (risk: a rule in an activity, where Baton asks its local model)
    POST /erp/reservations                       reserve stock        } in parallel
    POST /mes/production-orders (per shortfall)  produce the rest     }
    POST /finance/forecast-entries               book the forecast    }
    POST /notifications                          tell the customer
    POST /crm/interactions/{id}/outcome          close the interaction

A failure after reservation undoes what was done (release, cancel production, revert), as a
team would write it. An order that would need a person's approval fails: not this baseline's
business. What Baton adds on top (live state, search attributes, stage details, the decision
ledger, sealed payloads, the API) is what the bench's ratio prices.
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import httpx

# Baton's timeout and retries of one bot step.
TIMEOUT = timedelta(seconds=15)
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


@dataclass
class Line:
    sku: str
    quantity: int


@dataclass
class Order:
    order_ref: str
    customer_id: str
    lines: list[Line]
    approval_threshold: float = 10_000.0


@dataclass
class Call:
    """One call of a business system: a read (GET) or a keyed write (POST)."""

    path: str
    body: dict[str, Any] | None = None
    write: bool = True


@dataclass
class RiskRequest:
    credit_limit: float
    exposure: float
    amount: float


@dataclass
class Done:
    order_ref: str
    amount: float
    promised_date: str
    undone: list[str] = field(default_factory=list)


class SystemsActivities:
    """One httpx client for the worker, as Baton's bots share theirs."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @activity.defn(name="hand.call")
    async def call(self, call: Call) -> Any:
        if call.write:
            info = activity.info()
            key = f"baton:{info.workflow_id}:{info.workflow_run_id}:{info.activity_id}"
            response = await self.client.post(
                call.path, json=call.body or {}, headers={"Idempotency-Key": key}
            )
        else:
            response = await self.client.get(call.path)
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise ApplicationError(f"{call.path}: {response.status_code}", type="Unavailable")
        if response.is_error:
            raise ApplicationError(
                f"{call.path}: {response.status_code} {response.text[:200]}", non_retryable=True
            )
        return response.json()


@activity.defn(name="hand.score_risk")
async def score_risk(request: RiskRequest) -> str:
    use = (request.exposure + request.amount) / max(request.credit_limit, 1.0)
    return "high" if use > 1.0 else "medium" if use > 0.8 else "low"


def systems_client(base_url: str, slots: int) -> httpx.AsyncClient:
    """Built as Baton's bots build theirs: the same header, timeouts and pool size."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"User-Agent": "baton-bot"},
        timeout=httpx.Timeout(10.0, connect=5.0),
        limits=httpx.Limits(max_connections=slots * 2),
    )


@workflow.defn(name="HandWrittenOrder")
class HandWrittenOrder:
    def __init__(self) -> None:
        self.undo: list[tuple[str, Call]] = []

    async def _call(self, call: Call) -> Any:
        return await workflow.execute_activity(
            "hand.call", call, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
        )

    @workflow.run
    async def run(self, order: Order) -> Done:
        ref, customer = order.order_ref, order.customer_id
        text = ", ".join(f"{line.quantity} x {line.sku}" for line in order.lines)
        interaction = await self._call(
            Call(
                "/crm/interactions",
                {
                    "customer_id": customer,
                    "channel": "api",
                    "kind": "order",
                    "text": text,
                    "ref": ref,
                },
            )
        )
        products = await self._call(Call("/erp/products", write=False))
        prices = {product["sku"]: product["unit_price"] for product in products}
        amount = round(sum(prices[line.sku] * line.quantity for line in order.lines), 2)
        credit = await self._call(Call(f"/finance/credit/{customer}", write=False))
        risk = await workflow.execute_activity(
            score_risk,
            RiskRequest(credit["credit_limit"], credit["exposure"], amount),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        if amount > order.approval_threshold or risk == "high" or amount > credit["available"]:
            raise ApplicationError("needs approval: not this baseline's path", non_retryable=True)
        try:
            ready, _ = await _all_settled(
                self._reserve_and_produce(order), self._forecast(order, amount)
            )
        except ActivityError:
            undone = await self._compensate()
            raise ApplicationError(f"fulfilment failed; undone: {undone}") from None
        promised = ready.isoformat()
        await self._call(
            Call(
                "/notifications",
                {
                    "recipient": customer,
                    "channel": "email",
                    "subject": f"Order {ref} confirmed",
                    "body": f"We will deliver by {promised}.",
                    "ref": ref,
                },
            )
        )
        await self._call(
            Call(
                f"/crm/interactions/{interaction['id']}/outcome",
                {"outcome": f"confirmed, delivery by {promised}"},
            )
        )
        return Done(ref, amount, promised)

    async def _reserve_and_produce(self, order: Order) -> date:
        lines = [{"sku": line.sku, "quantity": line.quantity} for line in order.lines]
        reservation = await self._call(
            Call("/erp/reservations", {"order_ref": order.order_ref, "lines": lines})
        )
        self.undo.append(("release", Call(f"/erp/reservations/{reservation['id']}/release")))
        ready = workflow.now().date() + timedelta(days=1)
        short = [line for line in reservation["lines"] if line["shortfall"] > 0]
        produced = await _all_settled(
            *(self._produce(order.order_ref, line["sku"], line["shortfall"]) for line in short)
        )
        return max([ready, *(date.fromisoformat(day) for day in produced)])

    async def _produce(self, ref: str, sku: str, quantity: int) -> str:
        body = {"order_ref": ref, "sku": sku, "quantity": quantity}
        production = await self._call(Call("/mes/production-orders", body))
        cancel = f"/mes/production-orders/{production['id']}/cancel"
        self.undo.append(("cancel production", Call(cancel)))
        return str(production["completion_date"])

    async def _forecast(self, order: Order, amount: float) -> None:
        body = {
            "order_ref": order.order_ref,
            "customer_id": order.customer_id,
            "amount": amount,
            "period": workflow.now().strftime("%Y-%m"),
        }
        entry = await self._call(Call("/finance/forecast-entries", body))
        self.undo.append(("revert", Call(f"/finance/forecast-entries/{entry['id']}/revert")))

    async def _compensate(self) -> list[str]:
        undone = []
        for name, call in reversed(self.undo):
            await self._call(call)
            undone.append(name)
        return undone


async def _all_settled(*steps: Awaitable[Any]) -> list[Any]:
    """Lets every parallel step finish (and register its undo) before a failure counts."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return list(outcomes)
