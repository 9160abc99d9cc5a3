"""Vendor invoices as text (several layouts), labelled with every field the AP process needs."""

import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from systems.seed import PRODUCTS, PURCHASE_ORDERS, VENDORS, Vendor
from tools.ai_data.synth.common import (
    Pool,
    Split,
    absolute_date,
    paraphrases,
    random_day,
    typo,
)

PRICES = {product.sku: product.unit_price for product in PRODUCTS}
NAMES = {product.sku: product.name for product in PRODUCTS}
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

# Each inner list names one thing several ways; the last way is held out for evaluation.
LABELS: dict[str, Pool] = {
    "invoice_number": paraphrases(
        [
            ["Invoice No.", "Invoice Number", "Invoice no"],
            ["Invoice #", "Inv. No.", "Inv #"],
            ["Invoice", "Invoice Nr.", "Invoice ref."],
            ["Document No.", "Bill No.", "Document number"],
        ]
    ),
    "invoice_date": paraphrases(
        [
            ["Invoice Date", "Invoice date", "Date of invoice"],
            ["Date", "Dated", "Doc. date"],
            ["Date of issue", "Issue date", "Issued on"],
            ["Issued", "Billing date", "Invoiced"],
        ]
    ),
    "due_date": paraphrases(
        [
            ["Due Date", "Due by", "Payment due date"],
            ["Payment due", "Pay by", "Please pay by"],
            ["Due", "Payable by", "Due on"],
        ]
    ),
    "po_number": paraphrases(
        [
            ["PO Number", "PO No.", "PO #"],
            ["Purchase Order", "Purchase order no.", "Customer PO"],
            ["Your order", "Your PO", "Your order no."],
            ["P.O. #", "P.O. No.", "Order ref."],
        ]
    ),
    "subtotal": paraphrases(
        [
            ["Subtotal", "Sub-total", "Subtotal (net)"],
            ["Net amount", "Net total", "Total net"],
            ["Amount before tax", "Total before tax", "Net"],
        ]
    ),
    "tax": paraphrases(
        [
            ["VAT {rate}%", "Tax ({rate}%)", "VAT ({rate}%)"],
            ["Tax", "Sales tax", "GST"],
            ["VAT", "VAT amount", "Tax amount"],
        ]
    ),
    "total": paraphrases(
        [
            ["Total", "Total due", "Invoice total"],
            ["Amount due", "Balance due", "Total payable {currency}"],
            ["Grand total", "TOTAL {currency}", "Total amount"],
        ]
    ),
}
NUMBER_FORMATS = paraphrases(
    [
        ["INV-{year}-{n:05d}", "INV{year}{n:05d}", "{year}/{n:05d}"],
        ["{big}", "{n:06d}", "F-{n}"],
        ["NW{n:06d}", "AB-{n:05d}", "RE{short_year}{n:05d}"],
    ]
)
TABLE_HEADERS = paraphrases(  # column titles, separated by |
    [
        [
            "Description|Qty|Unit price|Amount",
            "Description|Quantity|Price|Total",
            "Article|Quantity|Rate|Line total",
        ],
        ["Item|Qty|Price|Total", "Item|Units|Unit price|Value", "Product|Units|Each|Value"],
    ]
)
DESCRIPTIONS = paraphrases(
    [
        ["{sku} {name}", "{sku} - {name}", "Art. {sku} {name}"],
        ["{name}", "{name}", "{name} ({sku})"],
    ]
)
SERVICE_LINES = paraphrases(
    [
        ["Freight", "Freight charges", "Transport costs"],
        ["Shipping and handling", "Handling", "Delivery charge"],
        ["Packaging", "Packing", "Pallet fee"],
    ]
)
NOISE = paraphrases(
    [
        ["VAT Reg No: GB{n9}", "VAT ID: GB{n9}", "Tax ID: DE{n9}"],
        [
            "IBAN: DE{n2} {n4} {n4} {n4} {n4} {n2}",
            "IBAN DE{n2}{n4}{n4}{n4}{n4}{n2}, BIC DEUTDEFF",
            "Bank: Sparkasse, account {n4}{n4}, sort code {n2}-{n2}-{n2}",
        ],
        ["Customer No.: C-{n4}", "Customer number C-{n4}", "Client ref: K{n4}"],
        ["Page 1 of 1", "Page 1/1", "Thank you for your business!"],
        ["Phone: +44 20 {n4} {n4}", "Tel. +49 711 {n4}{n2}", "Questions? Call +1 555 {n4}"],
        [
            "Company reg. no. {n4}{n4}",
            "Registered office: Leeds, no. {n4}{n2}",
            "Registered in England no. {n4}{n4}",
        ],
    ]
)
BILL_TO = "Bill to:\nBaton Industries Ltd\n1 Main Street\nManchester M1 1AA"


@dataclass
class Line:
    description: str
    sku: str | None
    quantity: int
    unit_price: float

    @property
    def amount(self) -> float:
        return round(self.quantity * self.unit_price, 2)


@dataclass
class Invoice:
    vendor: Vendor
    number: str
    issued: date
    due: date
    terms_days: int
    po_number: str | None
    currency: str
    lines: list[Line]
    tax_rate: int
    european: bool  # 1.234,56 rather than 1,234.56

    @property
    def subtotal(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)

    @property
    def tax(self) -> float:
        return round(self.subtotal * self.tax_rate / 100, 2)

    @property
    def total(self) -> float:
        return round(self.subtotal + self.tax, 2)

    def money(self, value: float) -> str:
        text = f"{value:,.2f}"
        return text.translate(str.maketrans(",.", ".,")) if self.european else text


def _number(rng: random.Random, split: Split, issued: date) -> str:
    n = rng.randint(100, 99999)
    return NUMBER_FORMATS.pick(rng, split).format(
        year=issued.year, short_year=issued.year % 100, n=n, big=n + 100000
    )


def _lines(rng: random.Random, split: Split) -> tuple[list[Line], Vendor, str, str | None]:
    """Lines from one of the ERP's purchase orders, or from a PO the ERP does not know."""
    if rng.random() < 0.5:
        po = rng.choice(PURCHASE_ORDERS)
        vendor = next(v for v in VENDORS if v.vendor_id == po.vendor_id)
        lines = [
            Line(
                DESCRIPTIONS.pick(rng, split),
                ordered.sku,
                received or ordered.quantity,
                ordered.unit_price,
            )
            for ordered, received in zip(po.lines, po.received, strict=True)
        ]
        return lines, vendor, po.currency, po.po_number
    vendor = rng.choice(VENDORS)
    lines = []
    for product in rng.sample(PRODUCTS, rng.choice([1, 1, 2, 2, 3, 4])):
        quantity = rng.choice([2, 5, 10, 20, 25, 40, 50, 100, 200, 500])
        price = round(product.unit_price * rng.uniform(0.45, 0.7), 2)
        lines.append(Line(DESCRIPTIONS.pick(rng, split), product.sku, quantity, price))
    po_number = rng.choice([f"PO-5{rng.randint(1000, 9999)}", f"45000{rng.randint(10000, 99999)}"])
    return lines, vendor, rng.choice(["EUR", "EUR", "USD", "GBP"]), po_number


def _invoice(rng: random.Random, split: Split) -> Invoice:
    lines, vendor, currency, po_number = _lines(rng, split)
    for line in lines:
        assert line.sku is not None
        name = NAMES[line.sku]
        name = name.upper() if rng.random() < 0.15 else name
        name = typo(name, rng) if rng.random() < 0.1 else name
        line.description = line.description.format(sku=line.sku, name=name)
    if rng.random() < 0.3:
        service = Line(SERVICE_LINES.pick(rng, split), None, 1, round(rng.uniform(15, 250), 2))
        lines.append(service)
    issued = random_day(rng, date(2026, 1, 2), date(2026, 12, 1))
    terms = rng.choice([vendor.payment_terms_days, 14, 30, 60])
    return Invoice(
        vendor=vendor,
        number=_number(rng, split, issued),
        issued=issued,
        due=issued + timedelta(days=terms),
        terms_days=terms,
        po_number=po_number if rng.random() < 0.9 else None,
        currency=currency,
        lines=lines,
        tax_rate=rng.choice([7, 10, 19, 20, 21]),
        european=currency == "EUR" and rng.random() < 0.4,
    )


def _vendor_heading(invoice: Invoice, rng: random.Random) -> str:
    name = invoice.vendor.name
    form = rng.randrange(4)
    if form == 0:
        name = name.upper()
    elif form == 1:
        name += rng.choice([" Ltd", " GmbH", " Inc.", " S.A."])
    elif form == 2:
        name = " ".join(typo(word, rng) if rng.random() < 0.3 else word for word in name.split())
    street = f"{rng.randint(1, 200)} {rng.choice(['Mill Lane', 'Industriestr.', 'Oak Avenue'])}"
    return f"{name}\n{street}\n{rng.choice(['Leeds LS1 4AP', '70173 Stuttgart', 'Austin, TX'])}"


class Renderer:
    """Writes one invoice in one layout; labels and wording depend on the split."""

    def __init__(self, invoice: Invoice, rng: random.Random, split: Split) -> None:
        self.inv = invoice
        self.rng = rng
        self.split = split
        self.show_due = rng.random() < 0.75  # otherwise only the payment terms say when
        self.symbol = SYMBOLS[invoice.currency] if rng.random() < 0.3 else ""

    def label(self, field: str) -> str:
        text = LABELS[field].pick(self.rng, self.split)
        return text.format(rate=self.inv.tax_rate, currency=self.inv.currency)

    def day(self, value: date) -> str:
        return absolute_date(value, self.rng, self.split)

    def money(self, value: float) -> str:
        return self.symbol + self.inv.money(value)

    def header_fields(self) -> list[tuple[str, str]]:
        inv = self.inv
        fields = [
            (self.label("invoice_number"), inv.number),
            (self.label("invoice_date"), self.day(inv.issued)),
        ]
        if self.show_due:
            fields.append((self.label("due_date"), self.day(inv.due)))
        if inv.po_number:
            fields.append((self.label("po_number"), inv.po_number))
        self.rng.shuffle(fields)
        if self.rng.random() < 0.4:
            delivered = self.day(inv.issued - timedelta(days=self.rng.randint(1, 9)))
            fields.append(("Delivery date", delivered))
        return fields

    def terms(self) -> str:
        days = self.inv.terms_days
        return self.rng.choice([f"Payment terms: {days} days net", f"Terms: Net {days}"])

    def noise(self) -> list[str]:
        rng = self.rng

        def digits(match: re.Match[str]) -> str:  # a fresh number for every placeholder
            return "".join(str(rng.randrange(10)) for _ in range(int(match[1])))

        lines = [NOISE.pick(rng, self.split) for _ in range(rng.choice([1, 2, 3]))]
        return [re.sub(r"\{n(\d)\}", digits, line) for line in lines]

    def table(self) -> list[str]:
        heads = TABLE_HEADERS.pick(self.rng, self.split).split("|")
        rows = [f"{heads[0]:<36}{heads[1]:>8}{heads[2]:>14}{heads[3]:>14}"]
        for line in self.inv.lines:
            unit, amount = self.money(line.unit_price), self.money(line.amount)
            rows.append(f"{line.description:<36}{line.quantity:>8}{unit:>14}{amount:>14}")
        return rows

    def totals(self) -> list[str]:
        inv = self.inv
        pairs = [("subtotal", inv.subtotal), ("tax", inv.tax), ("total", inv.total)]
        return [f"{self.label(f):>44}{self.money(v):>28}" for f, v in pairs]

    def currency_line(self) -> list[str]:
        return [f"Currency: {self.inv.currency}"] if not self.symbol else []

    def key_values(self) -> str:
        fields = [f"{label}: {value}" for label, value in self.header_fields()]
        return "\n".join(
            [
                _vendor_heading(self.inv, self.rng),
                *self.noise()[:1],
                "",
                "INVOICE",
                *fields,
                *self.currency_line(),
                "",
                BILL_TO,
                "",
                *self.table(),
                "",
                *self.totals(),
                "",
                self.terms(),
                *self.noise(),
            ]
        )

    def columns(self) -> str:
        fields = self.header_fields()
        width = max(len(text) for pair in fields for text in pair) + 3
        return "\n".join(
            [
                "INVOICE",
                _vendor_heading(self.inv, self.rng),
                "",
                "".join(label.ljust(width) for label, _ in fields),
                "".join(value.ljust(width) for _, value in fields),
                *self.currency_line(),
                "",
                *self.table(),
                *self.totals(),
                self.terms(),
                *self.noise(),
            ]
        )

    def prose(self) -> str:
        inv = self.inv
        po = f" for your purchase order {inv.po_number}" if inv.po_number else ""
        due = f" is due on {self.day(inv.due)}" if self.show_due else " is payable as agreed"
        item_lines = [
            f"{line.quantity} x {line.description} @ {self.money(line.unit_price)} = "
            f"{self.money(line.amount)}"
            if self.split == "train"
            else f"{line.description}: {line.quantity} at {self.money(line.unit_price)} each, "
            f"{self.money(line.amount)}"
            for line in inv.lines
        ]
        return "\n".join(
            [
                _vendor_heading(inv, self.rng),
                "",
                "Dear Accounts Payable,",
                f"please find our invoice {inv.number} dated {self.day(inv.issued)}{po}.",
                f"The amount of {inv.currency} {inv.money(inv.total)}{due}.",
                "",
                "Items:",
                *item_lines,
                "",
                f"{self.label('subtotal')} {self.money(inv.subtotal)}, "
                f"{self.label('tax')} {self.money(inv.tax)}, "
                f"{self.label('total')} {self.money(inv.total)}",
                self.terms(),
                "",
                "Kind regards,",
                "Accounts Receivable",
                *self.noise(),
            ]
        )

    def pipes(self) -> str:
        inv = self.inv
        header = " | ".join(f"{label}: {value}" for label, value in self.header_fields())
        rows = [
            f"{line.description} | {line.quantity} | {self.money(line.unit_price)} | "
            f"{self.money(line.amount)}"
            for line in inv.lines
        ]
        totals = " | ".join(
            f"{self.label(field)}: {self.money(value)}"
            for field, value in (("subtotal", inv.subtotal), ("tax", inv.tax), ("total", inv.total))
        )
        return "\n".join(
            [
                f"{inv.vendor.name.upper()} | INVOICE",
                header,
                *self.currency_line(),
                "Item | Qty | Price | Amount",
                *rows,
                totals,
                self.terms(),
                *self.noise(),
            ]
        )

    def stacked(self) -> str:
        """Labels on their own line above each value, as OCR of a form often yields."""
        fields = [f"{label}\n{value}" for label, value in self.header_fields()]
        return "\n".join(
            [
                _vendor_heading(self.inv, self.rng),
                "",
                *fields,
                *self.currency_line(),
                "",
                *self.table(),
                "",
                *self.totals(),
                self.terms(),
                *self.noise(),
            ]
        )

    def render(self) -> str:
        layouts = [self.key_values, self.columns, self.prose, self.pipes]
        if self.split == "eval":
            layouts.append(self.stacked)
        return self.rng.choice(layouts)()


def invoice_example(rng: random.Random, split: Split) -> dict[str, Any]:
    invoice = _invoice(rng, split)
    renderer = Renderer(invoice, rng, split)
    return {
        "text": renderer.render(),
        "vendor_id": invoice.vendor.vendor_id,
        "invoice_number": invoice.number,
        "invoice_date": invoice.issued.isoformat(),
        "due_date": invoice.due.isoformat(),
        "po_number": invoice.po_number,
        "currency": invoice.currency,
        "lines": [
            {
                "description": line.description,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
            }
            for line in invoice.lines
        ],
        "subtotal": invoice.subtotal,
        "tax": invoice.tax,
        "total": invoice.total,
    }
