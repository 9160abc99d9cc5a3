"""The AI activities under Temporal's ActivityEnvironment: answers, and how failures surface."""

import subprocess
import sys
from datetime import date

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ai.activities import AIActivities
from activities.ai.local.examples import catalogue
from activities.ai.local.provider import LocalProvider
from activities.ai.provider import InvalidAIRequest
from workflows.contracts.agent import AgentTurnRequest, AgentTurnResult
from workflows.contracts.ai import (
    INVALID_AI_REQUEST,
    ClassifyMessageRequest,
    ClassifyMessageResult,
    CustomerHistory,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    ExtractOrderRequest,
    ExtractOrderResult,
    Intent,
    RiskLevel,
    ScoreRiskRequest,
    ScoreRiskResult,
)

TODAY = date(2026, 6, 10)


class BrokenProvider:
    """Fails every call the way a provider can: `error` is raised from each method."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def classify_message(self, request: ClassifyMessageRequest) -> ClassifyMessageResult:
        raise self.error

    async def extract_order(self, request: ExtractOrderRequest) -> ExtractOrderResult:
        raise self.error

    async def extract_invoice(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult:
        raise self.error

    async def score_risk(self, request: ScoreRiskRequest) -> ScoreRiskResult:
        raise self.error

    async def agent_turn(self, request: AgentTurnRequest) -> AgentTurnResult:
        raise self.error


@pytest.fixture(scope="module")
def local() -> AIActivities:
    return AIActivities(LocalProvider())


async def test_classify_a_message(local: AIActivities) -> None:
    request = ClassifyMessageRequest(text="Please cancel order SO-12345, we no longer need it.")
    result = await ActivityEnvironment().run(local.classify_message, request)
    assert result.intent is Intent.CANCELLATION
    assert result.model == "baton-local/message-classifier"


async def test_extract_an_order(local: AIActivities) -> None:
    request = ExtractOrderRequest(
        text="Hi, we would like 12 x SEN-220 and 3 centrifugal pumps by next Monday. Thanks",
        catalogue=catalogue(),
        today=TODAY,
    )
    result = await ActivityEnvironment().run(local.extract_order, request)
    assert {(line.sku, line.quantity) for line in result.lines} == {("SEN-220", 12), ("PMP-410", 3)}
    assert result.requested_date == date(2026, 6, 15)


async def test_score_a_risky_order(local: AIActivities) -> None:
    request = ScoreRiskRequest(
        credit_limit=10_000,
        current_exposure=9_500,
        order_amount=6_000,
        history=CustomerHistory(orders_count=6, late_payments=4, disputes=2),
        segment="smb",
    )
    result = await ActivityEnvironment().run(local.score_risk, request)
    assert result.level is RiskLevel.HIGH
    assert result.reasons


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("classify_message", ClassifyMessageRequest(text="   ")),
        ("extract_order", ExtractOrderRequest(text="", catalogue=catalogue(), today=TODAY)),
        ("extract_order", ExtractOrderRequest(text="20 widgets", catalogue=[], today=TODAY)),
        ("extract_invoice", ExtractInvoiceRequest(text="\n")),
    ],
)
async def test_a_bad_request_fails_without_retry(
    local: AIActivities, method: str, request_: object
) -> None:
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(getattr(local, method), request_)
    assert failure.value.non_retryable
    assert failure.value.type == INVALID_AI_REQUEST


async def test_a_request_the_provider_refuses_fails_without_retry() -> None:
    activities = AIActivities(BrokenProvider(InvalidAIRequest("401 unauthorized")))
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(
            activities.classify_message, ClassifyMessageRequest(text="hi")
        )
    assert failure.value.non_retryable


async def test_provider_trouble_propagates_for_temporal_to_retry() -> None:
    activities = AIActivities(BrokenProvider(ConnectionError("model service unreachable")))
    with pytest.raises(ConnectionError):
        await ActivityEnvironment().run(
            activities.classify_message, ClassifyMessageRequest(text="hi")
        )


def test_the_ai_worker_code_never_loads_the_sandbox() -> None:
    """The catalogue and vendors come in the request; only the data generator reads systems/."""
    code = (
        "import sys, activities.ai.activities, activities.ai.factory; "
        "print('\\n'.join(sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "activities.ai.local.provider" in loaded
    assert not any(name == "systems" or name.startswith("systems.") for name in loaded)
