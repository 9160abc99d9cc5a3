"""Order to fulfilment: the input, its policy values, and the names of its parts."""

from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from workflows.contracts.bots import OrderLine
from workflows.contracts.queues import Queues

PROCESS_TYPE = "order-fulfillment"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # its bot and AI steps jump the queues (Temporal task priority)


class OrderPolicy(BaseModel):
    """Every threshold and duration of the process; tests set them to seconds."""

    approval_threshold: float = Field(10_000, ge=0, description="orders above it need approval")
    confidence_threshold: float = Field(0.75, ge=0, le=1, description="AI below it asks a rep")
    approval_due: timedelta = Field(timedelta(hours=4), description="then it escalates")
    approval_expires: timedelta = Field(timedelta(hours=24), description="then it is rejected")
    remind_every: timedelta | None = timedelta(hours=1)
    review_expires: timedelta = timedelta(hours=24)


class OrderInput(BaseModel):
    customer_id: str = Field(min_length=1, max_length=50, examples=["C-1001"])
    message: str | None = Field(None, max_length=20_000, description="free text to understand")
    lines: list[OrderLine] | None = Field(None, min_length=1, max_length=200)
    requested_date: date | None = None
    priority: Priority = Priority.NORMAL

    @model_validator(mode="after")
    def _message_or_lines(self) -> "OrderInput":
        if (self.message is None) == (self.lines is None):
            raise ValueError("give either message (free text) or lines, not both and not neither")
        if self.message is not None and not self.message.strip():
            raise ValueError("message is empty")
        return self


class OrderRun(BaseModel):
    """What the workflow receives: the order plus who asked, the policy and the queues."""

    order: OrderInput
    business_key: str
    requested_by: str
    policy: OrderPolicy = Field(default_factory=OrderPolicy)
    queues: Queues = Field(default_factory=Queues)
