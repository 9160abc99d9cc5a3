"""Training time and per-call latency of the local AI models and the offline agent policy
(`python bench/ai_latency.py`).

Each model trains from its data files, then answers every example of its evaluation split one
call at a time through the provider (as an activity would call it); prints median and p95.
"""

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from activities.ai.local.examples import (
    InvoiceExample,
    MessageExample,
    OrderExample,
    RiskExample,
    catalogue,
    load,
    vendors,
)
from activities.ai.local.provider import LocalModels, LocalProvider
from workflows.contracts.agent import AgentTool, AgentTurnRequest
from workflows.contracts.ai import (
    AIResult,
    ClassifyMessageRequest,
    ExtractInvoiceRequest,
    ExtractOrderRequest,
)

Example = TypeVar("Example")


def train_seconds(train: Callable[[], object]) -> float:
    started = time.perf_counter()
    train()
    return time.perf_counter() - started


async def latencies_ms(
    examples: Sequence[Example], call: Callable[[Example], Awaitable[AIResult]]
) -> list[float]:
    found = []
    for example in examples:
        started = time.perf_counter()
        await call(example)
        found.append((time.perf_counter() - started) * 1000)
    return found


async def main() -> None:
    models = LocalModels()
    provider = LocalProvider(models)
    products, vendor_list = catalogue(), vendors()
    messages = load(MessageExample, "messages", "eval")
    orders = load(OrderExample, "orders", "eval")
    invoices = load(InvoiceExample, "invoices", "eval")
    risks = load(RiskExample, "risk", "eval")
    tools = [
        AgentTool(name=name, description=name, parameters={})
        for name in ("erp.find_reservations", "mes.find_production_orders")
    ]
    runs: list[tuple[str, Callable[[], object], Callable[[], Awaitable[list[float]]]]] = [
        (
            "message classifier",
            models.messages.get,
            lambda: latencies_ms(
                messages, lambda e: provider.classify_message(ClassifyMessageRequest(text=e.text))
            ),
        ),
        (
            "order extractor",
            models.orders.get,
            lambda: latencies_ms(
                orders,
                lambda e: provider.extract_order(
                    ExtractOrderRequest(text=e.text, catalogue=products, today=e.today)
                ),
            ),
        ),
        (
            "invoice extractor",
            models.invoices.get,
            lambda: latencies_ms(
                invoices,
                lambda e: provider.extract_invoice(
                    ExtractInvoiceRequest(text=e.text, vendors=vendor_list, catalogue=products)
                ),
            ),
        ),
        (
            "risk scorer",
            models.risk.get,
            lambda: latencies_ms(risks, lambda e: provider.score_risk(e.request)),
        ),
        (
            "service agent",  # a rules policy: nothing to train
            lambda: None,
            lambda: latencies_ms(
                messages,
                lambda e: provider.agent_turn(
                    AgentTurnRequest(
                        goal="", message=f"{e.text} (SO-1A2B3C4D5E)", tools=tools, turns_left=6
                    )
                ),
            ),
        ),
    ]
    print(f"{'model':<20}{'train s':>9}{'calls':>7}{'median ms':>11}{'p95 ms':>9}")
    for name, train, measure in runs:
        trained = train_seconds(train)
        latencies = await measure()
        p95 = statistics.quantiles(latencies, n=20)[-1]
        median = statistics.median(latencies)
        print(f"{name:<20}{trained:>9.2f}{len(latencies):>7}{median:>11.2f}{p95:>9.2f}")


if __name__ == "__main__":
    asyncio.run(main())
