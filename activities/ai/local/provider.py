"""The offline provider: four scikit-learn models, trained once per process at first use.

Nothing is pickled: each model trains from the shipped data files the first time it is asked
for (well under a second or two each), so code, data and model never drift apart. Inference is
CPU work, so it runs in a thread and never blocks the worker's event loop.
"""

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

import sklearn  # type: ignore[import-untyped]

from activities.ai.local.agent import VERSION as AGENT_VERSION
from activities.ai.local.agent import next_turn
from activities.ai.local.examples import (
    DATA_DIR,
    InvoiceExample,
    MessageExample,
    OrderExample,
    RiskExample,
    catalogue,
    data_version,
    load,
)
from activities.ai.local.invoices import InvoiceExtractor
from activities.ai.local.learning import (
    INVOICES,
    ORDERS,
    aliases,
    examples,
    invoice_examples,
    load_learned,
)
from activities.ai.local.messages import MessageClassifier
from activities.ai.local.orders import OrderExtractor
from activities.ai.local.risk import RiskScorer
from workflows.contracts.agent import AgentTurnRequest, AgentTurnResult
from workflows.contracts.ai import (
    AICallMetrics,
    AIResult,
    ClassifyMessageRequest,
    ClassifyMessageResult,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    ExtractOrderRequest,
    ExtractOrderResult,
    ScoreRiskRequest,
    ScoreRiskResult,
)

T = TypeVar("T")
Result = TypeVar("Result", bound=AIResult)


class Lazy(Generic[T]):
    """A value built at first use, once, even when several threads ask at the same moment."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._built: list[T] = []

    def get(self) -> T:
        if not self._built:
            with self._lock:
                if not self._built:
                    self._built.append(self._build())
        return self._built[0]


class LocalModels:
    """The four models over one data directory, each trained when first needed; the order and
    invoice extractors also from the corrections learned in `learned_dir` (see learning.py)."""

    def __init__(self, data_dir: Path = DATA_DIR, learned_dir: Path | None = None) -> None:
        orders, invoices = load_learned(learned_dir, ORDERS), load_learned(learned_dir, INVOICES)
        digest = data_version(data_dir)
        if orders or invoices:
            learned = "".join(c.model_dump_json() for c in [*orders, *invoices]).encode()
            count = len(orders) + len(invoices)
            digest += f".learned-{count}-{hashlib.sha256(learned).hexdigest()[:8]}"
        self.version = f"data-{digest}+sklearn-{sklearn.__version__}"
        self.messages = Lazy(
            lambda: MessageClassifier(load(MessageExample, "messages", "train", data_dir))
        )
        self.orders = Lazy(
            lambda: OrderExtractor(
                load(OrderExample, "orders", "train", data_dir) + examples(orders),
                catalogue(data_dir),
                aliases(orders),
            )
        )
        self.invoices = Lazy(
            lambda: InvoiceExtractor(
                load(InvoiceExample, "invoices", "train", data_dir) + invoice_examples(invoices)
            )
        )
        self.risk = Lazy(lambda: RiskScorer(load(RiskExample, "risk", "train", data_dir)))

    def warm_up(self) -> None:
        """Trains every model now rather than on its first call (e.g. when a worker starts)."""
        for model in (self.messages, self.orders, self.invoices, self.risk):
            model.get()


@cache
def shared_models(data_dir: Path = DATA_DIR, learned_dir: Path | None = None) -> LocalModels:
    """One set of models per process, whichever provider or activity asks."""
    return LocalModels(data_dir, learned_dir)


class LocalProvider:
    def __init__(self, models: LocalModels | None = None) -> None:
        self._models = models or shared_models()

    def warm_up(self) -> None:
        self._models.warm_up()

    async def classify_message(self, request: ClassifyMessageRequest) -> ClassifyMessageResult:
        model = self._models.messages
        return await self._run(
            "baton-local/message-classifier", lambda: model.get().classify(request.text)
        )

    async def extract_order(self, request: ExtractOrderRequest) -> ExtractOrderResult:
        model = self._models.orders
        return await self._run("baton-local/order-extractor", lambda: model.get().extract(request))

    async def extract_invoice(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult:
        model = self._models.invoices
        return await self._run(
            "baton-local/invoice-extractor", lambda: model.get().extract(request)
        )

    async def score_risk(self, request: ScoreRiskRequest) -> ScoreRiskResult:
        model = self._models.risk
        return await self._run("baton-local/risk-scorer", lambda: model.get().score(request))

    async def agent_turn(self, request: AgentTurnRequest) -> AgentTurnResult:
        answer = await self._run("baton-local/service-agent", lambda: next_turn(request))
        return answer.model_copy(update={"model_version": AGENT_VERSION})  # rules, not data

    async def _run(self, name: str, infer: Callable[[], Result]) -> Result:
        started = time.perf_counter()
        result = await asyncio.to_thread(infer)
        metrics = AICallMetrics(latency_ms=(time.perf_counter() - started) * 1000)
        return result.model_copy(
            update={"model": name, "model_version": self._models.version, "metrics": metrics}
        )
