"""The AI steps as Temporal activities (`ai` task queue), over whichever provider is injected.

All are async: the local provider runs its CPU work in a thread, the remote one awaits
HTTP, so the worker needs no thread-pool executor for them. A request that can never be
answered fails without retry; provider trouble (5xx, timeouts, invalid output) is retried.
"""

from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ai.provider import AIProvider, InvalidAIRequest
from workflows.contracts.agent import AgentTurnRequest, AgentTurnResult
from workflows.contracts.ai import (
    INVALID_AI_REQUEST,
    AIActivity,
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

Result = TypeVar("Result", bound=AIResult)


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise InvalidAIRequest(problem)


async def _answer(call: Awaitable[Result]) -> Result:
    try:
        return await call
    except InvalidAIRequest as error:
        raise ApplicationError(str(error), type=INVALID_AI_REQUEST, non_retryable=True) from error


class AIActivities:
    def __init__(self, provider: AIProvider) -> None:
        self._provider = provider

    @activity.defn(name=AIActivity.CLASSIFY_MESSAGE.value)
    async def classify_message(self, request: ClassifyMessageRequest) -> ClassifyMessageResult:
        return await _answer(self._classify_message(request))

    @activity.defn(name=AIActivity.EXTRACT_ORDER.value)
    async def extract_order(self, request: ExtractOrderRequest) -> ExtractOrderResult:
        return await _answer(self._extract_order(request))

    @activity.defn(name=AIActivity.EXTRACT_INVOICE.value)
    async def extract_invoice(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult:
        return await _answer(self._extract_invoice(request))

    @activity.defn(name=AIActivity.SCORE_RISK.value)
    async def score_risk(self, request: ScoreRiskRequest) -> ScoreRiskResult:
        return await _answer(self._provider.score_risk(request))

    @activity.defn(name=AIActivity.AGENT_TURN.value)
    async def agent_turn(self, request: AgentTurnRequest) -> AgentTurnResult:
        return await _answer(self._agent_turn(request))

    async def _classify_message(self, request: ClassifyMessageRequest) -> ClassifyMessageResult:
        _require(bool(request.text.strip()), "the message is empty")
        return await self._provider.classify_message(request)

    async def _extract_order(self, request: ExtractOrderRequest) -> ExtractOrderResult:
        _require(bool(request.text.strip()), "the order text is empty")
        _require(bool(request.catalogue), "no catalogue to resolve products against")
        return await self._provider.extract_order(request)

    async def _agent_turn(self, request: AgentTurnRequest) -> AgentTurnResult:
        _require(bool(request.tools), "an agent needs tools")
        return await self._provider.agent_turn(request)

    async def _extract_invoice(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult:
        _require(bool(request.text.strip()), "the invoice text is empty")
        return await self._provider.extract_invoice(request)
