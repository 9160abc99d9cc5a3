"""The labelled data the local models learn from (and are evaluated on): files and records."""

import hashlib
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, TypeAdapter

from workflows.contracts.ai import (
    CatalogueItem,
    Intent,
    InvoiceLine,
    RiskLevel,
    ScoreRiskRequest,
    Urgency,
    VendorRef,
)

DATA_DIR = Path(__file__).parent.parent / "data"
Split = Literal["train", "eval"]


class MessageExample(BaseModel):
    text: str
    intent: Intent
    urgency: Urgency


class OrderLineLabel(BaseModel):
    sku: str
    quantity: int
    mention: str  # the line as the customer wrote it, verbatim in the text


class OrderExample(BaseModel):
    text: str
    today: date
    lines: list[OrderLineLabel]
    requested_date: date | None


class InvoiceExample(BaseModel):
    text: str
    vendor_id: str
    invoice_number: str
    invoice_date: date
    due_date: date
    po_number: str | None
    currency: str
    lines: list[InvoiceLine]
    subtotal: float
    tax: float
    total: float


class RiskExample(BaseModel):
    request: ScoreRiskRequest
    level: RiskLevel


Example = TypeVar("Example", bound=BaseModel)


def load(
    record: type[Example], task: str, split: Split, data_dir: Path = DATA_DIR
) -> list[Example]:
    """`{task}_{split}.jsonl` as records, e.g. load(OrderExample, "orders", "eval")."""
    with (data_dir / f"{task}_{split}.jsonl").open(encoding="utf-8") as rows:
        return [record.model_validate_json(row) for row in rows if row.strip()]


def catalogue(data_dir: Path = DATA_DIR) -> list[CatalogueItem]:
    """The product catalogue the data was written against (the sandbox ERP's)."""
    raw = json.loads((data_dir / "catalogue.json").read_text())
    return TypeAdapter(list[CatalogueItem]).validate_python(raw)


def vendors(data_dir: Path = DATA_DIR) -> list[VendorRef]:
    raw = json.loads((data_dir / "vendors.json").read_text())
    return TypeAdapter(list[VendorRef]).validate_python(raw)


@cache
def data_version(data_dir: Path = DATA_DIR) -> str:
    """A digest of the training files: models trained from the same data share a version."""
    digest = hashlib.sha256()
    for path in sorted(data_dir.glob("*_train.jsonl")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
