"""How the AI steps do where it matters: what they pass on without a person, and how often that
is wrong. Each answer is judged at a confidence threshold as

- right: passed without a person, and exactly what a careful clerk would have entered;
- routed: below the threshold (or nothing read), so a person looks at it: safe, but it costs;
- silently wrong: passed without a person, and wrong. The failure that matters.

`calibrate` picks the lowest threshold whose silently-wrong share stays within a target, on a
calibration split (the shipped held-out `*_eval.jsonl`, never trained on); `evaluate` counts the
outcomes on any labelled set, such as the hand-written one in tests/data/ai_eval/.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from activities.ai.local.examples import (
    InvoiceExample,
    OrderExample,
    catalogue,
    load,
    vendors,
)
from activities.ai.local.numbers import same_value
from activities.ai.local.provider import LocalModels
from workflows.contracts.ai import ExtractInvoiceRequest, ExtractOrderRequest, Intent

# The header fields of an invoice that AP relies on (the lines are checked by the match).
INVOICE_FIELDS = (
    "vendor_id",
    "invoice_number",
    "invoice_date",
    "due_date",
    "po_number",
    "currency",
    "total",
)
# Without these the invoice process always asks a clerk (REQUIRED in the workflow).
_INVOICE_REQUIRED = ("vendor_id", "invoice_number", "currency", "total")


class Outcome(StrEnum):
    RIGHT = "right"
    ROUTED = "routed"
    WRONG = "silently wrong"


@dataclass(frozen=True)
class Reading:
    """One answer, against what was expected."""

    confidence: float
    exact: bool  # the answer is what was expected
    found: bool  # something was read at all (no order lines: a person takes the message)
    fields: tuple[int, int] = (0, 0)  # (right, counted) where the answer has fields
    # An order message the classifier called something else, and how sure. At or above the
    # threshold the process turns it away when no lines were read (right only for no order),
    # and sends the lines it read to a person.
    not_an_order: float | None = None
    expected_none: bool = False


def judge(reading: Reading, threshold: float) -> Outcome:
    if reading.not_an_order is not None and reading.not_an_order >= threshold:
        if reading.found:
            return Outcome.ROUTED
        return Outcome.RIGHT if reading.expected_none else Outcome.WRONG
    if not reading.found or reading.confidence < threshold:
        return Outcome.ROUTED
    return Outcome.RIGHT if reading.exact else Outcome.WRONG


@dataclass(frozen=True)
class Tally:
    right: int
    routed: int
    wrong: int

    @property
    def total(self) -> int:
        return self.right + self.routed + self.wrong

    def share(self, outcome: Outcome) -> float:
        count = {Outcome.RIGHT: self.right, Outcome.ROUTED: self.routed, Outcome.WRONG: self.wrong}
        return count[outcome] / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (
            f"{self.right} right ({self.share(Outcome.RIGHT):.0%}), "
            f"{self.routed} routed ({self.share(Outcome.ROUTED):.0%}), "
            f"{self.wrong} silently wrong ({self.share(Outcome.WRONG):.1%}) of {self.total}"
        )


def tally(readings: Iterable[Reading], threshold: float) -> Tally:
    counts = Counter(judge(reading, threshold) for reading in readings)
    return Tally(counts[Outcome.RIGHT], counts[Outcome.ROUTED], counts[Outcome.WRONG])


def at_least_as_good(before: Tally, after: Tally) -> bool:
    """Whether a retrained model may replace the current one: as many answers right, and no
    more silently wrong."""
    return after.right >= before.right and after.wrong <= before.wrong


@dataclass(frozen=True)
class Calibration:
    threshold: float  # the lowest at which the silently-wrong share is within the target
    routed: float  # the share of work it sends to people
    wrong: float  # the silently-wrong share at it


def calibrate(readings: Sequence[Reading], target: float) -> Calibration:
    """The lowest threshold, among the confidences seen and 1.0, whose silently-wrong share on
    `readings` is at most `target`; above 1.0 (everything to people) when even answers at full
    confidence are wrong too often."""
    seen = {r.confidence for r in readings} | {r.not_an_order or 0.0 for r in readings}
    for threshold in sorted({round(confidence, 4) for confidence in seen} | {1.0}):
        counted = tally(readings, threshold)
        if counted.share(Outcome.WRONG) <= target:
            return Calibration(
                threshold, counted.share(Outcome.ROUTED), counted.share(Outcome.WRONG)
            )
    # Wrong answers at full confidence: only sending everything to people keeps the target.
    everything = tally(readings, 1.01)
    return Calibration(1.01, everything.share(Outcome.ROUTED), everything.share(Outcome.WRONG))


# -- reading each kind of labelled example ------------------------------------------------------


class ExpectedLine(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class HandWrittenOrder(BaseModel):
    """An order message as people write them, with the lines a careful clerk would enter
    (none for a message that is no order, or names nothing in the catalogue)."""

    id: str
    style: str = ""
    today: date
    text: str
    lines: list[ExpectedLine]
    note: str = ""


class HandWrittenInvoice(BaseModel):
    id: str
    style: str = ""
    text: str
    expected: dict[str, Any]  # INVOICE_FIELDS, as JSON


def read_orders(
    models: LocalModels, examples: Iterable[OrderExample | HandWrittenOrder]
) -> list[Reading]:
    """As the order process reads a message: classified first (a confident "not an order" is
    turned away), then its lines extracted."""
    products = catalogue()
    readings = []
    for example in examples:
        classified = models.messages.get().classify(example.text)
        request = ExtractOrderRequest(text=example.text, catalogue=products, today=example.today)
        answer = models.orders.get().extract(request)
        got = {(line.sku, line.quantity) for line in answer.lines}
        wanted = {(line.sku, line.quantity) for line in example.lines}
        readings.append(
            Reading(
                answer.confidence,
                got == wanted,
                bool(answer.lines or answer.unresolved),  # what a person would be shown
                not_an_order=None if classified.intent is Intent.ORDER else classified.confidence,
                expected_none=not wanted,
            )
        )
    return readings


def _invoice_expected(example: InvoiceExample | HandWrittenInvoice) -> dict[str, Any]:
    if isinstance(example, HandWrittenInvoice):
        return example.expected
    return example.model_dump(mode="json", include=set(INVOICE_FIELDS))


def read_invoices(
    models: LocalModels, examples: Iterable[InvoiceExample | HandWrittenInvoice]
) -> list[Reading]:
    products, known = catalogue(), vendors()
    readings = []
    for example in examples:
        request = ExtractInvoiceRequest(text=example.text, vendors=known, catalogue=products)
        answer = models.invoices.get().extract(request).model_dump(mode="json")
        expected = _invoice_expected(example)
        right = sum(same_value(answer.get(name), expected.get(name)) for name in INVOICE_FIELDS)
        found = all(answer.get(name) not in (None, "") for name in _INVOICE_REQUIRED)
        readings.append(
            Reading(
                answer["confidence"],
                right == len(INVOICE_FIELDS),
                found,
                (right, len(INVOICE_FIELDS)),
            )
        )
    return readings


def calibration_readings(models: LocalModels) -> dict[str, list[Reading]]:
    """The readings of its calibration split (the held-out eval files) of each model whose
    threshold sends work to people (the extractors; the classifier's threshold only decides
    whether a message is turned away as no order)."""
    return {
        "order-extractor": read_orders(models, load(OrderExample, "orders", "eval")),
        "invoice-extractor": read_invoices(models, load(InvoiceExample, "invoices", "eval")),
    }


def hand_written(directory: Path) -> tuple[list[HandWrittenOrder], list[HandWrittenInvoice]]:
    """The hand-written evaluation set in `directory` (orders.jsonl, invoices.jsonl; a set
    may have only one of the two)."""

    def rows(name: str) -> list[str]:
        if not (directory / name).exists():
            return []
        return [row for row in (directory / name).read_text().splitlines() if row.strip()]

    orders = [HandWrittenOrder.model_validate_json(row) for row in rows("orders.jsonl")]
    invoices = [HandWrittenInvoice.model_validate_json(row) for row in rows("invoices.jsonl")]
    return orders, invoices
