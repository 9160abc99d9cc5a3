"""The local models on their held-out evaluation split, and the parsers they stand on.

Run with `-s` to see the figures; they are also recorded as test properties (junit XML).

Field-level accuracy is the fraction of fields exactly right over all evaluation examples, where
the fields of one example are:
- order extraction: one per expected line (right when the extraction has that SKU with that
  quantity), the requested date (right when equal, both absent included), and one per extracted
  line that was not expected (always wrong);
- invoice extraction: vendor_id, invoice_number, invoice_date, due_date, po_number, currency,
  subtotal, tax and total, plus one per expected line (right when an extracted line has the same
  SKU, quantity, unit price and amount) and one per extracted line that was not expected.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date

import pytest

from activities.ai.evaluation import INVOICE_FIELDS as HEADER_FIELDS
from activities.ai.local.dates import find_dates
from activities.ai.local.examples import (
    InvoiceExample,
    MessageExample,
    OrderExample,
    RiskExample,
    catalogue,
    load,
    vendors,
)
from activities.ai.local.fuzzy import NameMatcher
from activities.ai.local.numbers import find_numbers, parse_number
from activities.ai.local.provider import LocalModels, LocalProvider, shared_models
from workflows.contracts.ai import (
    AIResult,
    ClassifyMessageRequest,
    CustomerHistory,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    ExtractOrderRequest,
    ExtractOrderResult,
    InvoiceLine,
    ScoreRiskRequest,
)

# The header fields AP relies on, and the totals beside the total.
INVOICE_FIELDS = (*HEADER_FIELDS, "subtotal", "tax")


@pytest.fixture(scope="module")
def models() -> LocalModels:
    return shared_models()


def report(record_property: Callable[[str, object], None], name: str, value: float) -> None:
    print(f"\n{name}: {value:.3f}")
    record_property(name, round(value, 4))


# -- held-out evaluation ----------------------------------------------------------------------


def test_intent_and_urgency_accuracy(models: LocalModels, record_property) -> None:
    examples = load(MessageExample, "messages", "eval")
    results = [models.messages.get().classify(example.text) for example in examples]
    intent = sum(r.intent == e.intent for r, e in zip(results, examples, strict=True))
    urgency = sum(r.urgency == e.urgency for r, e in zip(results, examples, strict=True))
    report(record_property, "intent_accuracy", intent / len(examples))
    report(record_property, "urgency_accuracy", urgency / len(examples))
    assert intent / len(examples) >= 0.9


def order_fields(result: ExtractOrderResult, expected: OrderExample) -> tuple[int, int]:
    """(fields right, fields counted) for one order, as defined in the module docstring."""
    got = {line.sku: line.quantity for line in result.lines}
    wanted = {line.sku: line.quantity for line in expected.lines}
    right = sum(got.get(sku) == quantity for sku, quantity in wanted.items())
    right += result.requested_date == expected.requested_date
    return right, len(wanted) + 1 + len(got.keys() - wanted.keys())


def test_order_extraction_field_accuracy(models: LocalModels, record_property) -> None:
    products = catalogue()
    right = counted = 0
    for example in load(OrderExample, "orders", "eval"):
        request = ExtractOrderRequest(text=example.text, catalogue=products, today=example.today)
        fields = order_fields(models.orders.get().extract(request), example)
        right, counted = right + fields[0], counted + fields[1]
    report(record_property, "order_field_accuracy", right / counted)
    assert right / counted >= 0.9


def _line_key(line: InvoiceLine) -> tuple[str | None, float, float, float]:
    return line.sku, line.quantity, line.unit_price, line.amount


def invoice_fields(result: ExtractInvoiceResult, expected: InvoiceExample) -> tuple[int, int]:
    """(fields right, fields counted) for one invoice, as defined in the module docstring."""
    right = sum(getattr(result, field) == getattr(expected, field) for field in INVOICE_FIELDS)
    got = Counter(_line_key(line) for line in result.lines)
    wanted = Counter(_line_key(line) for line in expected.lines)
    right += (got & wanted).total()
    return right, len(INVOICE_FIELDS) + wanted.total() + (got - wanted).total()


def test_invoice_extraction_field_accuracy(models: LocalModels, record_property) -> None:
    products, vendor_list = catalogue(), vendors()
    right = counted = 0
    for example in load(InvoiceExample, "invoices", "eval"):
        request = ExtractInvoiceRequest(text=example.text, vendors=vendor_list, catalogue=products)
        fields = invoice_fields(models.invoices.get().extract(request), example)
        right, counted = right + fields[0], counted + fields[1]
    report(record_property, "invoice_field_accuracy", right / counted)
    assert right / counted >= 0.9


def test_risk_level_accuracy(models: LocalModels, record_property) -> None:
    """Reported; the floor only catches a broken model (the labels carry deliberate noise)."""
    examples = load(RiskExample, "risk", "eval")
    right = sum(models.risk.get().score(e.request).level == e.level for e in examples)
    report(record_property, "risk_level_accuracy", right / len(examples))
    assert right / len(examples) >= 0.75


# -- parsers and matching ---------------------------------------------------------------------

TODAY = date(2026, 6, 10)  # a Wednesday


def extract(text: str) -> ExtractOrderResult:
    """The order extractor's reading of `text`, on the shipped catalogue."""
    request = ExtractOrderRequest(text=text, catalogue=catalogue(), today=TODAY)
    return shared_models().orders.get().extract(request)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("please deliver by 2026-12-15", date(2026, 12, 15)),
        ("needed before 15 December", date(2026, 12, 15)),
        ("no later than Dec 15th", date(2026, 12, 15)),
        ("arriving 15/12/2026", date(2026, 12, 15)),
        ("on the 3rd of March", date(2027, 3, 3)),  # no year, already past: next year's
        ("within 2 weeks", date(2026, 6, 24)),
        ("within three weeks", date(2026, 7, 1)),
        ("10 days from today", date(2026, 6, 20)),
        ("by next Friday", date(2026, 6, 19)),  # Friday of the next calendar week
        ("by Friday", date(2026, 6, 12)),
        ("by the end of the month", date(2026, 6, 30)),
        ("end of next week", date(2026, 6, 19)),
        ("tomorrow please", date(2026, 6, 11)),
    ],
)
def test_dates_absolute_and_relative_to_today(text: str, expected: date) -> None:
    assert [mention.value for mention in find_dates(text, TODAY)] == [expected]


def test_relative_dates_need_a_today() -> None:
    assert find_dates("within 2 weeks, or 15 December") == []
    assert [m.value for m in find_dates("Invoice date: 15 December 2026")] == [date(2026, 12, 15)]


@pytest.mark.parametrize(
    ("written", "value"),
    [("1,234.56", 1234.56), ("1.234,56", 1234.56), ("1,200", 1200.0), ("12.50", 12.5)],
)
def test_numbers_in_english_and_european_notation(written: str, value: float) -> None:
    parsed = parse_number(written)
    assert parsed is not None
    assert parsed[0] == value


def test_quantities_in_words() -> None:
    values = [n.value for n in find_numbers("two dozen, twenty-five and a dozen", words=True)]
    assert values == [24, 25, 12]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("two hundred", 200),
        ("three hundred and fifty", 350),
        ("a hundred", 100),
        ("two thousand five hundred", 2500),
        ("half a dozen", 6),
        ("Twenty-Four", 24),
    ],
)
def test_compound_quantities_in_words(written: str, value: float) -> None:
    assert [n.value for n in find_numbers(f"send {written} pumps", words=True)] == [value]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("zwanzig", 20),
        ("dreihundert", 300),
        ("zwei Dutzend", 24),
        ("drie honderd", 300),
        ("trois cents", 300),
        ("dix-huit", 18),
        ("una docena de", 12),
        ("trescientos veinte", 320),
        ("dieci", 10),
        ("duecento", 200),
        ("una dozzina di", 12),
    ],
)
def test_quantities_in_words_of_other_languages(written: str, value: float) -> None:
    assert [n.value for n in find_numbers(f"send {written} pumps", words=True)] == [value]


def test_words_english_uses_otherwise_are_no_numbers() -> None:
    text = "once approved, pay 50 cents a piece by Sept; the elf-sized box"
    assert [n.value for n in find_numbers(text, words=True)] == [50]


def test_and_joins_words_only_after_hundred_or_thousand() -> None:
    assert [n.value for n in find_numbers("one and two", words=True)] == [1, 2]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # A price, a PO number, a time and a date are never the quantity.
        ("PO 4471: 30 x GAD-120 @ 19.95", {("GAD-120", 30)}),
        ("Hi, please send two hundred ball valves to our plant.", {("VAL-310", 200)}),
        ("Order #5521 - 40 pcs VAL-310 at 31 EUR each", {("VAL-310", 40)}),
        ("deliver at 10:30 please, 5 x WID-300", {("WID-300", 5)}),
        (
            "Merci d'envoyer 40 VAL-310. Livraison : 18 rue des Forges, 69007 Lyon.",
            {("VAL-310", 40)},
        ),
        # A position number is no quantity; "en" (Dutch "and") separates items, a slash does
        # not: it joins a product to its quantity (and "1." is the list's, not the quantity).
        ("Pos. 1: 4 x PMP-410 Centrifugal Pump", {("PMP-410", 4)}),
        ("Graag 8 stuks PMP-420 en 16 stuks FLT-920.", {("PMP-420", 8), ("FLT-920", 16)}),
        ("1. humidity sensor / quantity 80", {("SEN-230", 80)}),
        ("three hundred and fifty ethernet cables please", {("CBL-620", 350)}),
        # A list's numbering is no quantity either; an abbreviation's full stop ends no clause.
        ("1) Standard Widget - 50\n2) MOT-520 x8", {("WID-100", 50), ("MOT-520", 8)}),
        ("Bestellung: 120 Stk. SEN-230 \u00e0 44,00 EUR = 5.280,00 EUR netto", {("SEN-230", 120)}),
        # A count written as one wins over the product's own figure ("10 x ... 10m"); a
        # product and its count split by a comma are one line; a ZIP code and a British
        # postcode are no quantity, nor is an order quoted by its number.
        (
            "- 10 \u00d7 shielded cable 10m\n- 4x Butterfly Valve 4 inch",
            {("CBL-610", 10), ("VAL-320", 4)},
        ),
        ("Roller Bearing 22210, 16 units at 96.00 = 1,536.00", {("BRG-820", 16)}),
        ("Diaphragm Pump PMP-420, qty 3. Same delivery point as order 5407.", {("PMP-420", 3)}),
        ("3 x PMP-410 to 3 Riverside Lane, Gotham Falls 40721", {("PMP-410", 3)}),
        ("Bitte 5 Stk. SEN-210 an Industriestra\u00dfe 42 liefern", {("SEN-210", 5)}),
        ("Graag 5 x SEN-210 naar Keizersgracht 12, 1015 CJ Amsterdam", {("SEN-210", 5)}),
        # A chat export's times and speakers are neither counts nor products; a slash between
        # a count and the next code separates items; a number word is never a product's word.
        (
            "[09:14] Priya Raman (Hooli Robotics): 3pcs HMI touch panel\n[09:16] Priya:",
            {("CTL-720", 3)},
        ),
        (
            "Order: WID-300 - 12 / WID-100 - 120 / WID-200 - 60",
            {("WID-300", 12), ("WID-100", 120), ("WID-200", 60)},
        ),
        ("nous commandons trois cents roulements \u00e0 billes 6204 (BRG-810)", {("BRG-810", 300)}),
        # The same count twice is no doubt about the quantity.
        ("I'd like to order 1 (one) Lithium Battery Pack 48V", {("BAT-940", 1)}),
        (
            "Vorremmo 6 pompe a membrana (PMP-420) e dieci FLT-910",
            {("PMP-420", 6), ("FLT-910", 10)},
        ),
    ],
)
def test_figures_that_are_not_quantities(text: str, lines: set[tuple[str, int]]) -> None:
    result = extract(text)
    assert {(line.sku, line.quantity) for line in result.lines} == lines


@pytest.mark.parametrize(
    ("written", "sku"),
    [
        ("20 temp sensors", "SEN-210"),
        ("humidty sensors", "SEN-230"),
        ("wid100", "WID-100"),
        ("heavy duty widgets", "WID-200"),
        ("4 inch butterfly valves", "VAL-320"),
        ("6204 bearings", "BRG-810"),
    ],
)
def test_fuzzy_sku_resolution(written: str, sku: str) -> None:
    match = NameMatcher([(item.sku, item.name) for item in catalogue()]).best(written)
    assert match is not None
    assert match.key == sku


def test_vendor_resolution_tolerates_typos_and_suffixes() -> None:
    match = NameMatcher([(v.vendor_id, v.name) for v in vendors()]).best("NORTWIND COMPONENTS LTD")
    assert match is not None
    assert match.key == "V-201"


@pytest.mark.parametrize(
    ("text", "unresolved"),
    [
        # The product named again with its own figures only: nothing for a person.
        ("please send 10 ethernet cables, cat6 5m", []),
        # Named again with another figure: which is meant is a person's call.
        ("please send 10 ethernet cables, cat6 5m x 4", ["cat6 5m x 4"]),
    ],
)
def test_a_product_named_again(text: str, unresolved: list[str]) -> None:
    result = extract(text)
    assert {(line.sku, line.quantity) for line in result.lines} == {("CBL-620", 10)}
    assert result.unresolved == unresolved


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        # A pipe table: the quantity is the "Qty" column's, not the position or the price; the
        # totals row orders nothing.
        (
            "| Pos | Article | Qty | Unit price |\n|-----|------|-----|-----|\n"
            "| 1 | Temperature Sensor SEN-210 | 25 | 58.00 |\n"
            "| 2 | Gadget Mount Kit | 10 | 19.95 |\n"
            "|   | TOTAL | 35 | |",
            {("SEN-210", 25), ("GAD-120", 10)},
        ),
        # An ERP's semicolon export, in German, with a date column.
        (
            "Artikelnummer;Bezeichnung;Menge;Liefertermin\nSEN-210;Temperatursensor;40;15.09.2026\n"
            "CBL-610;Geschirmtes Kabel 10m;25;22.09.2026",
            {("SEN-210", 40), ("CBL-610", 25)},
        ),
        # A fixed-width purchase order: the product's own figures stay in their column.
        (
            "Line  Item No.  Description           Qty  Unit Price\n"
            "1     BRG-810   Ball Bearing 6204     400  4.20\n"
            "2     BRG-820   Roller Bearing 22210  16   96.00",
            {("BRG-810", 400), ("BRG-820", 16)},
        ),
        # A stock sheet: the "Order qty" column, and 0 is not ordered.
        (
            "Item\tOn hand\tMin\tOrder qty\n"
            "Humidity Sensor\t4\t20\t16\nBall Valve 1 inch\t60\t50\t0",
            {("SEN-230", 16)},
        ),
        # Counts in words, in a fixed-width layout.
        (
            "Product                   Code      Qty\n"
            "Centrifugal Pump          PMP-410   four\n"
            "Ball Bearing 6204         BRG-810   two dozen",
            {("PMP-410", 4), ("BRG-810", 24)},
        ),
        # A web form's records, one field a line.
        (
            "Item: Humidity Sensor\nSKU: SEN-230\nQty: 12\nItem: Pressure Sensor\nQty: 6\n\n"
            "Requested by: Facilities, Bldg 7",
            {("SEN-230", 12), ("SEN-220", 6)},
        ),
    ],
)
def test_tables_and_records_are_read_by_column(text: str, lines: set[tuple[str, int]]) -> None:
    result = extract(text)
    assert {(line.sku, line.quantity) for line in result.lines} == lines
    assert result.unresolved == []


@pytest.mark.parametrize(
    "text",
    [
        "Artikel | Aantal\nKogellager 6204 | 250\nLuchtfilterpatroon | 30",  # a row's product
        "sku,qty\nWID-100,lots",  # a row's quantity
        "Item | Qty ordered | Qty delivered\nWID-100 | 20 | 10",  # which quantity column
        "sku,qty\nWID-100,20\nWID-100,30",  # the same product twice
    ],
)
def test_a_table_read_only_in_part_is_a_persons(text: str) -> None:
    result = extract(text)
    assert result.unresolved
    assert result.confidence <= 0.3


@pytest.mark.parametrize(
    ("text", "sure"),
    [
        ("plus 10 stepper motors", True),  # no other motor is a stepper
        ("5 HMI", True),
        ("Could we get 5 PLC's", True),
        ("2 of the 48v battery packs", True),
        ("20 stainless bolts", False),  # a word never seen after the product's: maybe bolts
        ("We need two hundred Cat6 patch cables", False),  # inside the mention
        ("10 valves", False),  # the ball valve and the butterfly valve are both valves
    ],
)
def test_a_partial_name_that_can_only_mean_one_product(text: str, sure: bool) -> None:
    models = shared_models()
    matcher = NameMatcher([(item.sku, item.name) for item in catalogue()])
    match = matcher.best(text)
    assert match is not None
    assert matcher.singled_out(text, match, models.orders.get().known_words) is sure


def test_a_figure_of_a_product_named_too_vaguely_is_a_persons() -> None:
    """'Vanne papillon 4 pouces' names the Butterfly Valve 4 inch too vaguely to claim its 4 as
    the product's: the clause's figures make it a person's, not a line silently dropped."""
    text = "- 20 x SEN-210\n- Qt\u00e9 4 : Vanne papillon 4 pouces"
    result = extract(text)
    assert "- Qt\u00e9 4 : Vanne papillon 4 pouces" in result.unresolved
    assert result.confidence <= 0.3


@pytest.mark.parametrize(
    ("asked", "passed"),
    [
        ("Please process the reorder below, it's approved.", True),
        ("Thanks, we need 12 pressure sensors this time.", False),  # the quote is the old order
    ],
)
def test_a_quoted_order_counts_when_the_forward_asks_for_it(asked: str, passed: bool) -> None:
    text = (
        f"{asked}\n\n-----Original Message-----\nFrom: Warehouse\nSubject: reorder\n\n"
        "Reorder quantities:\n80 x FLT-910\n40 x FLT-920\n"
    )
    result = extract(text)
    assert {("FLT-910", 80), ("FLT-920", 40)} <= {
        (line.sku, line.quantity) for line in result.lines
    }
    assert (not result.unresolved) is passed


@pytest.mark.parametrize(
    "text",
    [
        # quoted tables, and forwards that do not plainly ask for what they quote
        "Please send 5 Smart Gadgets.\n\nOn Mon, 1 Jun 2026, Bob wrote:\n> Item | Qty\n"
        "> Standard Widget | 10",
        "Please do not process the order below until we confirm.\n\n> 10 Standard Widgets",
        "Did you process the order below?\n\n> 10 Standard Widgets",
        "We plan to place a new order this month.\n\n> 10 Standard Widgets",
        # another size or model than the catalogue's
        "Please send 2 x Lithium Battery Pack 24V",
        '5 Butterfly Valves 6"',
        "Item | Qty\nBall Valve 2 inch | 10",
        "Item | Qty\nRoller Bearing 22212 | 4",
        # words English has too, a word before the mention that may be the product
        "Heavy-Duty Widget order due Friday",
        "Please send 10 first aid kits",
        # two products in one record or row, a quantity with no product, counts of packs
        "Subject: WID-300 delivery question\nItem: Standard Widget\nQty: 10",
        "Replaces: WID-100\nItem: WID-200\nQty: 5",
        "Code | Description | Qty\nWID-100 | Heavy-Duty Widget | 10",
        "Item: Standard Widget\nQty: 10\nQty: 12",
        "Item | Qty | UoM\nStandard Widget | 2 | BOX",
        "Item | Pack size | Qty\nStandard Widget | 12 | 2",
        # a complaint's count is no order line of the product before it
        "The Heavy-Duty Widget arrived damaged, 2 units were bent.",
    ],
)
def test_never_passed_on_silently(text: str) -> None:
    result = extract(text)
    assert not (result.lines and result.confidence >= 0.75), result


def test_a_second_product_in_a_line_is_a_persons() -> None:
    """One figure read for a clause that names two products ("6 pompe ... con filtri", in a
    language whose words the reader does not know) is never passed on as one line."""
    text = "vorremmo ordinare 6 pompe a membrana (PMP-420) con filtri olio idraulico"
    matcher = NameMatcher([(item.sku, item.name) for item in catalogue()])
    first = matcher.best(text)
    assert first is not None
    second = matcher.another(text, first)
    assert second is not None
    assert (first.key, second.key) == ("PMP-420", "FLT-920")
    own = matcher.another("6 x PMP-420 Diaphragm Pumps", first)  # its own name only
    assert own is None or own.score < 0.5
    result = extract(text)
    assert result.unresolved == [text]
    assert result.confidence <= 0.3


async def test_a_message_without_order_lines() -> None:
    result = await LocalProvider().extract_order(
        ExtractOrderRequest(
            text="Hi,\nDo you have pressure sensors in stock? We may need some next year.\nThanks",
            catalogue=catalogue(),
            today=TODAY,
        )
    )
    assert result.lines == []
    assert result.confidence < 0.5


async def test_an_order_read_end_to_end() -> None:
    text = (
        "Hello,\nplease send us 20 x WID-100 and five temprature sensors.\n"
        "We spoke on 2026-05-02. We need them within 2 weeks.\nBest regards,\nAnna"
    )
    result = await LocalProvider().extract_order(
        ExtractOrderRequest(text=text, catalogue=catalogue(), today=TODAY)
    )
    assert {(line.sku, line.quantity) for line in result.lines} == {("WID-100", 20), ("SEN-210", 5)}
    assert result.requested_date == date(2026, 6, 24)


async def test_every_result_carries_confidence_and_provenance() -> None:
    provider = LocalProvider()
    order = load(OrderExample, "orders", "eval")[0]
    invoice = load(InvoiceExample, "invoices", "eval")[0]
    results: Sequence[AIResult] = [
        await provider.classify_message(ClassifyMessageRequest(text="cancel order 123 please")),
        await provider.extract_order(
            ExtractOrderRequest(text=order.text, catalogue=catalogue(), today=order.today)
        ),
        await provider.extract_invoice(
            ExtractInvoiceRequest(text=invoice.text, vendors=vendors(), catalogue=catalogue())
        ),
        await provider.score_risk(
            ScoreRiskRequest(
                credit_limit=10_000,
                current_exposure=9_000,
                order_amount=4_000,
                history=CustomerHistory(orders_count=2, late_payments=1, disputes=1),
                segment="smb",
            )
        ),
    ]
    for result in results:
        assert 0.0 <= result.confidence <= 1.0
        assert result.model.startswith("baton-local/")
        assert result.model_version
        assert result.metrics.latency_ms >= 0.0
