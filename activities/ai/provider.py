"""The one interface every AI provider offers: one pydantic request in, one result out."""

from typing import Protocol

from workflows.contracts.agent import AgentTurnRequest, AgentTurnResult
from workflows.contracts.ai import (
    ClassifyMessageRequest,
    ClassifyMessageResult,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    ExtractOrderRequest,
    ExtractOrderResult,
    ScoreRiskRequest,
    ScoreRiskResult,
)


class AIProvider(Protocol):
    async def classify_message(self, request: ClassifyMessageRequest) -> ClassifyMessageResult: ...

    async def extract_order(self, request: ExtractOrderRequest) -> ExtractOrderResult: ...

    async def extract_invoice(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult: ...

    async def score_risk(self, request: ScoreRiskRequest) -> ScoreRiskResult: ...

    async def agent_turn(self, request: AgentTurnRequest) -> AgentTurnResult: ...


class InvalidAIRequest(ValueError):
    """The request cannot be answered as it stands (empty text, refused by the model service):
    asking again will not help."""


class InvalidModelOutput(RuntimeError):
    """The model kept answering with something that is not a valid result; a later try may."""
