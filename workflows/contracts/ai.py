"""AI steps (`ai` task queue): classify a message, extract an order or an invoice, score risk.

Every result says how sure it is (`confidence`, 0..1) and which model answered (`model`,
`model_version`), so a workflow can route a weak answer to a person and the decision ledger can
record what decided. Requests carry everything the step needs (catalogue, vendors, today's date),
so a step never reaches into another system and its answer is reproducible.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from workflows.contracts.bots import OrderLine
from workflows.contracts.departments import Department

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class AIActivity(StrEnum):
    CLASSIFY_MESSAGE = "ai.classify_message"
    EXTRACT_ORDER = "ai.extract_order"
    EXTRACT_INVOICE = "ai.extract_invoice"
    SCORE_RISK = "ai.score_risk"
    AGENT_TURN = "ai.agent_turn"


# The department whose work each AI step does.
AI_DEPARTMENTS: dict[str, Department] = {
    AIActivity.CLASSIFY_MESSAGE: Department.SALES,
    AIActivity.EXTRACT_ORDER: Department.SALES,
    AIActivity.EXTRACT_INVOICE: Department.ACCOUNTS_PAYABLE,
    AIActivity.SCORE_RISK: Department.FINANCE,
}


def ai_department(activity: str) -> str:
    """An AI step's department; "" for one not declared: it counts for its process's."""
    department = AI_DEPARTMENTS.get(activity)
    return department.value if department else ""


# The ledger steps of people's corrections of the AI: examples `baton ai retrain` learns from.
ORDER_CORRECTION = "order-correction"  # data: text, today, extracted and corrected lines
INVOICE_CORRECTION = "invoice-correction"  # data: text, extracted and corrected fields


class OrderCorrection(BaseModel):
    """What an order correction's ledger entry holds."""

    text: str
    today: date
    extracted: list[OrderLine]
    corrected: list[OrderLine]


# ApplicationError type of a request no AI step can answer (e.g. empty text): never retried.
INVALID_AI_REQUEST = "InvalidAIRequest"


class Intent(StrEnum):
    ORDER = "order"
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"
    CANCELLATION = "cancellation"
    OTHER = "other"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AICallMetrics(BaseModel):
    """What one call cost: wall time, tokens (remote models only) and attempts made."""

    latency_ms: float = Field(0.0, ge=0.0)
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    attempts: int = Field(1, ge=1)


class AIResult(BaseModel):
    """What every AI step returns besides its answer."""

    confidence: Confidence
    model: str = ""
    model_version: str = ""
    metrics: AICallMetrics = Field(default_factory=AICallMetrics)


# -- classify a customer message --------------------------------------------------------------


class ClassifyMessageRequest(BaseModel):
    text: str


class ClassifyMessageResult(AIResult):
    """`confidence` is about the intent, the decision that routes the process."""

    intent: Intent
    urgency: Urgency = Urgency.NORMAL
    urgency_confidence: Confidence = 0.0


# -- extract an order from free text ----------------------------------------------------------


class CatalogueItem(BaseModel):
    sku: str
    name: str


class ExtractOrderRequest(BaseModel):
    text: str
    catalogue: list[CatalogueItem]
    today: date = Field(description="Relative dates ('within 2 weeks') count from this day.")


class ExtractedOrderLine(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    source_text: str = Field("", description="What the customer wrote for this line.")
    confidence: Confidence = 0.0


class ExtractOrderResult(AIResult):
    lines: list[ExtractedOrderLine] = Field(default_factory=list)
    requested_date: date | None = None
    unresolved: list[str] = Field(
        default_factory=list, description="Item-like text that matched no catalogue entry."
    )


# -- extract an invoice -----------------------------------------------------------------------


class VendorRef(BaseModel):
    vendor_id: str
    name: str


class ExtractInvoiceRequest(BaseModel):
    text: str
    vendors: list[VendorRef] = Field(default_factory=list)
    catalogue: list[CatalogueItem] = Field(
        default_factory=list, description="When given, invoice lines are resolved to SKUs."
    )


class InvoiceLine(BaseModel):
    description: str = ""
    sku: str | None = None
    quantity: float = 0.0
    unit_price: float = 0.0
    amount: float = 0.0


class ExtractInvoiceResult(AIResult):
    vendor_id: str | None = None
    vendor_name: str | None = None
    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    po_number: str | None = None
    currency: str | None = Field(None, description="ISO 4217 code, e.g. EUR.")
    lines: list[InvoiceLine] = Field(default_factory=list)
    subtotal: float | None = None
    tax: float | None = None
    total: float | None = None


# -- score the risk of an order ---------------------------------------------------------------


class CustomerHistory(BaseModel):
    orders_count: int = Field(0, ge=0)
    late_payments: int = Field(0, ge=0)
    disputes: int = Field(0, ge=0)


class ScoreRiskRequest(BaseModel):
    credit_limit: float = Field(ge=0.0)
    current_exposure: float = Field(0.0, ge=0.0)
    order_amount: float = Field(ge=0.0)
    history: CustomerHistory = Field(default_factory=CustomerHistory)
    segment: str = Field("", description="e.g. smb, mid-market, enterprise, strategic")


class ScoreRiskResult(AIResult):
    score: float = Field(ge=0.0, le=1.0, description="0 = no risk, 1 = certain trouble.")
    level: RiskLevel
    reasons: list[str] = Field(default_factory=list)


class InvoiceCorrection(BaseModel):
    """What an invoice correction's ledger entry holds: the invoice's text, the fields the AI
    read (as the clerk was shown them) and the invoice as the clerk confirmed it."""

    text: str
    extracted: dict[str, Any] = Field(default_factory=dict)
    corrected: ExtractInvoiceResult
