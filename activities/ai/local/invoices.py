"""Vendor invoices: header fields, lines and totals from the invoice's text.

1. A text classifier says which lines are invoice lines (goods or services).
2. Each invoice line's figures are read as quantity x unit price = amount: arithmetic decides
   which figure is which. Its SKU comes from the catalogue, by code or fuzzy name.
3. Identifiers, dates and amounts elsewhere are candidates for the header fields and totals; a
   span tagger labels each by its context ('Due', 'Total', a column header printed above).
4. The vendor is the best fuzzy match of the vendor list; the currency the most frequent code.
5. What is missing is derived: the due date from the payment terms, a total from the others.
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from statistics import fmean

from activities.ai.local.dates import find_dates
from activities.ai.local.examples import InvoiceExample
from activities.ai.local.fuzzy import NameMatcher
from activities.ai.local.numbers import NumberMention, find_numbers, same_value
from activities.ai.local.segments import Segment, lines
from activities.ai.local.span_tagger import OTHER, Features, SpanTagger, span_context
from activities.ai.local.text_classifier import SHORT_TEXT_NGRAMS, TextClassifier
from workflows.contracts.ai import ExtractInvoiceRequest, ExtractInvoiceResult, InvoiceLine

ITEM = "item"
ID_FIELDS = ("invoice_number", "po_number")
DATE_FIELDS = ("invoice_date", "due_date")
AMOUNT_FIELDS = ("subtotal", "tax", "total")
CONFIDENCE_FIELDS = ("invoice_number", "invoice_date", "total")  # what AP cannot do without

_ID = re.compile(r"(?<![\w/.-])(?=(?:[\w/-]*\d){3})[A-Za-z0-9][\w/-]*[A-Za-z0-9](?![\w/-])")
_CURRENCY = re.compile(r"\b(EUR|USD|GBP|CHF|JPY|CAD|AUD|SEK|NOK|DKK|PLN)\b|([€$£])")
_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}
# Payment terms: "Net 30" (not 'Net 1.907,80'), "30 days", and German, French, Spanish,
# Dutch: "60 Tage netto", "30 jours", "30 días", "30 dagen".
_TERMS = re.compile(
    r"\bnet\s*(\d{1,3})(?![\d.,])|\b(\d{1,3})\s*(?:days|tage|jours|d[ií]as|dagen)\b", re.I
)
MIN_FIELD_ODDS = 0.25
_LINE_NOISE = re.compile(r"[€$£|=@]|\b(?:EUR|USD|GBP|x|at|each|pcs)\b", re.I)
MIN_VENDOR_SCORE = 0.5
MIN_SKU_SCORE = 0.6


# The labels of invoices in German, French, Spanish and Dutch, as the English ones the tagger
# learned from: the figures and codes beside them are read as in an English invoice.
_LABELS = (
    (
        r"vervaldatum|f(?:ä|ae)lligkeit(?:sdatum)?|f(?:ä|ae)llig(?: am| bis)?|zahlbar bis"
        r"|date d'(?:é|e)ch(?:é|e)ance|(?:é|e)ch(?:é|e)ance|fecha de vencimiento|vencimiento",
        "due date",
    ),
    (
        r"rechnungsdatum|factuurdatum|date de (?:la )?facture|fecha de (?:la )?factura",
        "invoice date",
    ),
    (
        r"rechnungsnummer|rechnung nr\.?|factuurnummer|factuur nr\.?|facture n[°ºo]\.?"
        r"|factura n[°ºo]\.?|n[°º] de factura",
        "invoice no",
    ),
    (r"gesamtbetrag|rechnungsbetrag|totaalbedrag|montant total|total ttc|importe total", "total"),
    (r"bestellnummer|ihre bestellung|bon de commande|pedido|inkooporder", "purchase order"),
)
_LABEL_PATTERNS = [(re.compile(rf"\b(?:{words})", re.I), english) for words, english in _LABELS]


def in_english(text: str) -> str:
    """The text with its foreign field labels put in English."""
    for pattern, english in _LABEL_PATTERNS:
        text = pattern.sub(english, text)
    return text


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    kind: str  # id, date or amount
    value: str | date | float


def _money(value: float) -> float:
    return round(value, 2)


def _amounts_multiply(quantity: float, unit: float, amount: float) -> bool:
    return quantity > 0 and abs(quantity * unit - amount) <= 0.011


def _triple(numbers: Sequence[NumberMention]) -> tuple[int, int, int] | None:
    """Positions of quantity, unit price and amount: the rightmost figures where q x u = a."""
    found = [
        (k, j, i)
        for i, j, k in combinations(range(len(numbers)), 3)
        if _amounts_multiply(numbers[i].value, numbers[j].value, numbers[k].value)
    ]
    if not found:
        return None
    k, j, i = max(found)
    return i, j, k


def _figures(text: str, matcher: NameMatcher) -> list[NumberMention]:
    """The figures of a line, except those inside a catalogue code (the 720 of CTL-720)."""
    code = matcher.find_code(text)
    span = code.code_span if code and code.code_span else (0, 0)
    return [n for n in find_numbers(text) if not span[0] <= n.start < span[1]]


def _annotated(text: str) -> str:
    """The line plus a marker word when its figures multiply out like an invoice line."""
    reads = _triple(find_numbers(text)) is not None
    return f"{text} {'xxmultiplies' if reads else 'xxnoproduct'}"


def _read_line(text: str, matcher: NameMatcher) -> InvoiceLine | None:
    figures = _figures(text, matcher)
    positions = _triple(figures)
    if positions is None:
        return None
    quantity, unit, amount = (figures[p] for p in positions)
    description = text
    for figure in sorted((quantity, unit, amount), key=lambda n: -n.start):
        description = description[: figure.start] + description[figure.end :]
    description = re.sub(r"\s+", " ", _LINE_NOISE.sub(" ", description)).strip(" -:,()")
    match = matcher.best(text)
    sku = match.key if match and match.score >= MIN_SKU_SCORE else None
    return InvoiceLine(
        description=description,
        sku=sku,
        quantity=quantity.value,
        unit_price=unit.value,
        amount=amount.value,
    )


def _candidates(text: str, item_lines: Sequence[Segment]) -> list[Candidate]:
    """Dates, amounts and identifiers outside the invoice lines, in that order of precedence."""
    taken = [(line.start, line.end) for line in item_lines]
    found: list[Candidate] = []

    def add(start: int, end: int, kind: str, value: str | date | float) -> None:
        if all(end <= s or start >= e for s, e in taken):
            taken.append((start, end))
            found.append(Candidate(start, end, kind, value))

    for mention in find_dates(text):
        add(mention.start, mention.end, "date", mention.value)
    for number in find_numbers(text):
        if number.decimals == 2:
            add(number.start, number.end, "amount", number.value)
    for match in _ID.finditer(text):
        add(match.start(), match.end(), "id", match[0])
    return found


def _features(text: str, candidate: Candidate, amounts: Sequence[float]) -> Features:
    """Context, plus for an amount its rank by size: a total is the largest, tax the smallest."""
    features = span_context(text, candidate.start, candidate.end)
    features["kind"] = candidate.kind
    features["position"] = round(4 * candidate.start / max(len(text), 1))
    if isinstance(candidate.value, float):
        features["rank"] = min(sum(amount > candidate.value for amount in amounts), 3)
    elif isinstance(candidate.value, str):
        # Identifiers carry their own hints: a 'PO' prefix, or ten digits in SAP's style.
        prefix = re.match(r"[A-Za-z]*", candidate.value)
        features["prefix"] = prefix[0].lower() if prefix else ""
        features["digits"] = sum(char.isdigit() for char in candidate.value)
        features["separator"] = float(any(char in "-/" for char in candidate.value))
    return features


def _label(candidate: Candidate, example: InvoiceExample) -> str | None:
    """The field a candidate is in the example, OTHER if none; None when its value is that of
    several fields (a subtotal that is the total, with no tax): it teaches nothing about which
    label is which."""
    fields = {"id": ID_FIELDS, "date": DATE_FIELDS, "amount": AMOUNT_FIELDS}[candidate.kind]
    matches = [field for field in fields if same_value(candidate.value, getattr(example, field))]
    if len(matches) > 1:
        return None
    return matches[0] if matches else OTHER


def _amounts(candidates: Sequence[Candidate]) -> list[float]:
    return sorted({c.value for c in candidates if isinstance(c.value, float)})


def _currency(text: str) -> str | None:
    seen = Counter(code or _SYMBOLS[symbol] for code, symbol in _CURRENCY.findall(text))
    return seen.most_common(1)[0][0] if seen else None


class InvoiceExtractor:
    def __init__(self, examples: Sequence[InvoiceExample]) -> None:
        texts, kinds = [], []
        features, labels = [], []
        for example in examples:
            descriptions = [line.description for line in example.lines]
            items = []
            for line in lines(example.text):
                is_item = any(description in line.text for description in descriptions)
                texts.append(_annotated(line.text))
                kinds.append(ITEM if is_item else OTHER)
                items += [line] if is_item else []
            candidates = _candidates(example.text, items)
            amounts = _amounts(candidates)
            for candidate in candidates:
                label = _label(candidate, example)
                if label is not None:
                    features.append(_features(example.text, candidate, amounts))
                    labels.append(label)
        self._lines = TextClassifier(texts, kinds, char_ngrams=SHORT_TEXT_NGRAMS)
        self._fields = SpanTagger(features, labels)

    def extract(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult:
        text = in_english(request.text)
        catalogue = NameMatcher([(item.sku, item.name) for item in request.catalogue])
        all_lines = lines(text)
        odds = self._lines.probabilities([_annotated(line.text) for line in all_lines])
        items = [line for line, row in zip(all_lines, odds, strict=True) if row[ITEM] >= 0.5]
        invoice_lines = [read for line in items if (read := _read_line(line.text, catalogue))]
        fields, field_odds = self._fields_of(text, items)

        vendor = NameMatcher([(v.vendor_id, v.name) for v in request.vendors]).best(text)
        if vendor is not None and vendor.score < MIN_VENDOR_SCORE:
            vendor = None
        invoice_date = fields.get("invoice_date")
        due_date = fields.get("due_date") or _due_from_terms(text, invoice_date)
        subtotal, tax, total = _completed_totals(
            fields.get("subtotal"), fields.get("tax"), fields.get("total"), invoice_lines
        )
        reconciles = _reconciles(subtotal, tax, total, invoice_lines)
        key_odds = fmean(field_odds.get(field, 0.0) for field in CONFIDENCE_FIELDS)
        vendor_quality = vendor.quality if vendor else 0.5
        return ExtractInvoiceResult(
            vendor_id=vendor.key if vendor else None,
            vendor_name=vendor.name if vendor else None,
            invoice_number=_text(fields.get("invoice_number")),
            invoice_date=_day(invoice_date),
            due_date=_day(due_date),
            po_number=_text(fields.get("po_number")),
            currency=_currency(text),
            lines=invoice_lines,
            subtotal=subtotal,
            tax=tax,
            total=total,
            confidence=key_odds * vendor_quality * (1.0 if reconciles else 0.6),
        )

    def _fields_of(
        self, text: str, items: Sequence[Segment]
    ) -> tuple[dict[str, str | date | float], dict[str, float]]:
        """Each field's most likely candidate, and how likely it is."""
        candidates = _candidates(text, items)
        amounts = _amounts(candidates)
        rows = self._fields.probabilities([_features(text, c, amounts) for c in candidates])
        # Most likely pairs first; one field per candidate and one candidate per field.
        pairs = sorted(
            (
                (row[field], index, field)
                for index, row in enumerate(rows)
                for field in row
                if field != OTHER and row[field] >= MIN_FIELD_ODDS
            ),
            reverse=True,
        )
        values: dict[str, str | date | float] = {}
        odds: dict[str, float] = {}
        used: set[int] = set()
        for probability, index, field in pairs:
            value = candidates[index].value
            if field in values or index in used or not _plausible(field, value, values):
                continue
            values[field], odds[field] = value, probability
            used.add(index)
        return values, odds


def _plausible(
    field: str, value: str | date | float, chosen: dict[str, str | date | float]
) -> bool:
    """An invoice is never due before it is issued (that is a delivery or order date)."""
    issued, due = chosen.get("invoice_date"), chosen.get("due_date")
    if field == "due_date" and isinstance(issued, date) and isinstance(value, date):
        return value >= issued
    if field == "invoice_date" and isinstance(due, date) and isinstance(value, date):
        return value <= due
    return True


def _reconciles(
    subtotal: float | None, tax: float | None, total: float | None, lines: Sequence[InvoiceLine]
) -> bool:
    """The lines add up to the subtotal, and subtotal plus tax to the total."""
    if subtotal is None or tax is None or total is None:
        return False
    adds_up = abs(sum(line.amount for line in lines) - subtotal) < 0.011
    return adds_up and abs(subtotal + tax - total) < 0.011


def _text(value: str | date | float | None) -> str | None:
    return value if isinstance(value, str) else None


def _day(value: str | date | float | None) -> date | None:
    return value if isinstance(value, date) else None


def _due_from_terms(text: str, invoice_date: str | date | float | None) -> date | None:
    """'Net 30' or '30 days net' counted from the invoice date."""
    terms = _TERMS.search(text)
    if terms is None or not isinstance(invoice_date, date):
        return None
    return invoice_date + timedelta(days=int(terms[1] or terms[2]))


def _completed_totals(
    subtotal: str | date | float | None,
    tax: str | date | float | None,
    total: str | date | float | None,
    invoice_lines: Sequence[InvoiceLine],
) -> tuple[float | None, float | None, float | None]:
    """Fills a missing total from the other two, or the subtotal from the lines."""
    sub = subtotal if isinstance(subtotal, float) else None
    vat = tax if isinstance(tax, float) else None
    gross = total if isinstance(total, float) else None
    if sub is None and invoice_lines:
        sub = _money(sum(line.amount for line in invoice_lines))
    if gross is None and sub is not None and vat is not None:
        gross = _money(sub + vat)
    if vat is None and sub is not None and gross is not None:
        vat = _money(gross - sub)
    return sub, vat, gross
