"""What the local models learn from people's corrections (the `order-correction` and
`invoice-correction` ledger entries).

An order correction becomes
- a training example: the message, with each corrected line's clause as its mention, counted
  several times over the shipped examples (one person's correction outweighs a generated one);
- an alias: the words a customer used for a product the catalogue names otherwise ("HMI" for
  the HMI Touch Panel, "6204s" for the ball bearings), which the name matcher then knows.
An invoice correction becomes a training example of the invoice as the clerk confirmed it, so the
field tagger learns the labels that vendor prints ("Settle before" for the due date); one that
lacks a header field teaches nothing (the tagger would learn the field is not there).

Accepted corrections are kept in `learned/orders.jsonl` and `learned/invoices.jsonl` under the
AI data directory (BATON_DATA_DIR/ai); the models train from the shipped data plus those files.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from activities.ai.local.examples import InvoiceExample, OrderExample, OrderLineLabel, catalogue
from activities.ai.local.fuzzy import NameMatcher, words
from activities.ai.local.invoices import in_english
from activities.ai.local.numbers import find_numbers
from activities.ai.local.segments import clauses
from workflows.contracts.ai import (
    INVOICE_CORRECTION,
    ORDER_CORRECTION,
    InvoiceCorrection,
    OrderCorrection,
)

WEIGHT = 5  # how many shipped examples one correction counts as
C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class Learned(Generic[C]):
    """One kind of correction: its ledger step, its record and the file that keeps it."""

    step: str
    record: type[C]
    file: str


ORDERS = Learned(ORDER_CORRECTION, OrderCorrection, "learned/orders.jsonl")
INVOICES = Learned(INVOICE_CORRECTION, InvoiceCorrection, "learned/invoices.jsonl")
# Words around a product that are not its name.
_FILLER = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "x",
        "pcs",
        "pc",
        "pieces",
        "piece",
        "units",
        "unit",
        "ea",
        "each",
        "qty",
        "quantity",
        "please",
        "pls",
        "send",
        "need",
        "order",
        "want",
        "would",
        "like",
        "we",
        "us",
        "our",
        "for",
        "and",
        "to",
        "off",
        "some",
        "more",
        "also",
        "thank",
        "thanks",
        "thx",
        "cheer",
        "cheers",
        "hi",
        "hello",
    }
)


def load_learned(directory: Path | None, kind: Learned[C]) -> list[C]:
    path = directory / kind.file if directory else None
    if path is None or not path.exists():
        return []
    rows = path.read_text(encoding="utf-8").splitlines()
    return [kind.record.model_validate_json(row) for row in rows if row.strip()]


def save_learned(directory: Path, kind: Learned[C], corrections: Sequence[C]) -> None:
    """Replaces the learned corrections, atomically (a worker never reads half a file)."""
    path = directory / kind.file
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_suffix(".draft")
    draft.write_text("".join(c.model_dump_json() + "\n" for c in corrections), encoding="utf-8")
    draft.replace(path)


def _clause_of(correction: OrderCorrection, sku: str, quantity: int) -> str | None:
    """The clause that orders this line: one stating its quantity, naming that product if one
    does, else one naming no product the catalogue knows (the words people use for it); None
    when no clause states the quantity."""
    matcher = NameMatcher([(item.sku, item.name) for item in catalogue()])
    stating = [
        segment.text
        for segment in clauses(correction.text)
        if any(n.value == quantity for n in find_numbers(segment.text, words=True))
    ]
    best = {text: matcher.best(text) for text in stating}
    for text, match in best.items():
        if match is not None and match.key == sku and match.score >= 0.7:
            return text
    for text, match in best.items():
        if match is None or match.score < 0.7:
            return text
    return None


def as_example(correction: OrderCorrection) -> OrderExample:
    lines = [
        OrderLineLabel(
            sku=line.sku,
            quantity=line.quantity,
            mention=_clause_of(correction, line.sku, line.quantity) or correction.text,
        )
        for line in correction.corrected
    ]
    return OrderExample(
        text=correction.text, today=correction.today, lines=lines, requested_date=None
    )


def examples(corrections: Sequence[OrderCorrection]) -> list[OrderExample]:
    return [as_example(correction) for correction in corrections] * WEIGHT


def invoice_example(correction: InvoiceCorrection) -> InvoiceExample | None:
    """The invoice as the clerk confirmed it, as a training example; None when a header field
    is missing."""
    invoice = correction.corrected
    try:
        return InvoiceExample.model_validate(
            {**invoice.model_dump(), "text": in_english(correction.text)}
        )
    except ValidationError:
        return None


def teaches(correction: BaseModel) -> bool:
    """Whether a correction becomes a training example (an invoice lacking a header field does
    not)."""
    return not isinstance(correction, InvoiceCorrection) or invoice_example(correction) is not None


def invoice_examples(corrections: Sequence[InvoiceCorrection]) -> list[InvoiceExample]:
    learned = [example for c in corrections if (example := invoice_example(c)) is not None]
    return learned * WEIGHT


def aliases(corrections: Sequence[OrderCorrection]) -> list[tuple[str, str]]:
    """(sku, words) for each corrected line the model had not read as that product: the
    clause's words that are neither figures nor filler."""
    found = []
    for correction in corrections:
        read = {(line.sku, line.quantity) for line in correction.extracted}
        for line in correction.corrected:
            if (line.sku, line.quantity) in read:
                continue
            clause = _clause_of(correction, line.sku, line.quantity)
            if clause is None:
                continue  # no clause of its own: no telling which words name it
            named = [
                word
                for word in words(clause)
                if word not in _FILLER
                and not re.fullmatch(r"\d+", word)
                and not any(n.value == line.quantity for n in find_numbers(word, words=True))
            ]
            if 1 <= len(named) <= 4:
                found.append((line.sku, " ".join(named)))
    return found
