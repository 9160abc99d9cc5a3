"""Order lines (SKU, quantity) and the requested date, from a customer's free text.

Learned parts and parsers work in turn:
1. a text classifier says which clauses are order lines (not greetings, addresses, questions);
2. the catalogue matcher resolves each line's product, by SKU code or fuzzy name;
3. a span tagger picks the quantity among the line's figures (not the 400 of 'Servo 400W');
4. the date finder lists every date; a span tagger picks the requested one (not 'we spoke on').
"""

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from activities.ai.local.dates import DateMention, find_dates
from activities.ai.local.examples import OrderExample, OrderLineLabel
from activities.ai.local.fuzzy import Match, NameMatcher, codes_written, normalize_code, words
from activities.ai.local.numbers import COUNT_UNITS, QUANTITY_LABELS, NumberMention, find_numbers
from activities.ai.local.segments import Segment, clauses
from activities.ai.local.span_tagger import OTHER, Features, SpanTagger, span_context
from activities.ai.local.tables import Table, layouts
from activities.ai.local.text_classifier import SHORT_TEXT_NGRAMS, TextClassifier
from workflows.contracts.ai import (
    CatalogueItem,
    ExtractedOrderLine,
    ExtractOrderRequest,
    ExtractOrderResult,
)

ITEM = "item"
QUANTITY = "quantity"
REQUESTED = "requested"
MIN_MATCH_SCORE = 0.4  # below this a line names no catalogue product well enough
MAX_QUANTITY = 100_000  # more is a phone, account or reference number, not a quantity

# Figures that are never a quantity, whatever the learned tagger thinks: a price ("@ 19.95",
# "EUR 31", "31 EUR"), a reference ("PO 4471", "order #5521", "ref 88", "n\u00b0 5"), a place
# ("dock 4", "Unit 12"), a time ("3 pm", "10:30"), a percentage; and any figure with decimals
# or inside a date.
_NOT_BEFORE = re.compile(
    r"(?:(?:[@$\u20ac\u00a3#]|\b(?:eur|usd|gbp|chf|po|p\.o\.|ref|no\.?|nr\.?|n[\u00b0\u00ba])"
    r"\s*[#:.]?"
    r"|\b(?:order|invoice|reference)\s*(?:#|no\.?|nr\.?|number(?: is)?)"
    r"|\b(?:as|from|in|on|with|of)\s+(?:(?:our|your|the|my|last|previous)\s+)?order"
    r"|\b(?:dock|gate|bay|building|room|floor|level|suite|hall|door|platform|line|kw|week|cw"
    r"|unit|lab|site|plant|zone|aisle|tor|werk|halle|pos\.?|position|item|art\.?|artikel)"
    # a house number after its street, as German and Dutch write it: "Industriestra\u00dfe 42"
    r"|(?:stra(?:ss|\u00df)e|str\.|weg|gasse|platz|allee|laan|straat|gracht|haven|plein|kade"
    r"|dijk|damm|ufer))"
    # part of a code: "ACM-PO-88213", "BC-77120", a postcode's "SO53" (but "x20" counts)
    r"\s*|\d[:/-]|[a-z]-|[a-wyz])$",
    re.I,
)
_NOT_AFTER = re.compile(
    r"^(?:(?i:\s*(?:[\u20ac$\u00a3%]|eur\b|usd\b|gbp\b|chf\b|euros?\b|dollars?\b|[ap]\.?m\b))"
    r"|:\d|/\d"
    # a size or a rating: "400W", "10m", '1"' (a count is "20x", "20pcs")
    r"|(?i:(?:w|kw|v|mm|cm|m|kg|ah|mah|hz|bar|psi|nm)\b)|\""
    # a house number or a postcode: "12 Mill Road", "14 Kingsway", "90210 Springfield"
    r"|-\d|\s+(?:[A-Z][a-z]*\.?\s+){0,2}(?:Road|Rd|Street|St|Way|Lane|Ln|Ave|Avenue|Parkway"
    r"|Estate|Drive|Dr|Boulevard|Blvd|Place|Square|Court|Kingsway|Stra(?:ss|\u00df)e|Weg|Platz)\b"
    # a house number before the street, as French and Spanish write it: "18 rue des Forges"
    r"|(?i:\s+(?:rue|avenue|av\.|bd|boulevard|chemin|all\u00e9e|impasse|quai|calle|avenida|plaza"
    r"|paseo)\b))",
)


def _catalogue_matcher(
    catalogue: Sequence[CatalogueItem], aliases: Sequence[tuple[str, str]] = ()
) -> NameMatcher:
    """The catalogue's names, and what customers were seen to call its products (learned)."""
    skus = {item.sku for item in catalogue}
    learned = [(sku, alias) for sku, alias in aliases if sku in skus]
    return NameMatcher([(item.sku, item.name) for item in catalogue] + learned)


def _labelled_line(
    segment: Segment, text: str, lines: Sequence[OrderLineLabel]
) -> OrderLineLabel | None:
    """The order line a segment of a training text belongs to, if any."""
    for line in lines:
        start = text.find(line.mention)
        overlap = min(segment.end, start + len(line.mention)) - max(segment.start, start)
        if start >= 0 and overlap >= 0.5 * min(len(segment.text), len(line.mention)):
            return line
    return None


# A figure written as a count: "x4", "4x", "4 \u00d7", "qty 10", "10 pcs".
_COUNT_BEFORE = re.compile(rf"(?:[x\u00d7]|\b(?:{QUANTITY_LABELS})\s*[:.]?)\s*$", re.I)
_COUNT_AFTER = re.compile(rf"\s*(?:[x\u00d7](?![a-z])|(?:{COUNT_UNITS})\b)", re.I)


def _part_of_product(text: str, number: NumberMention, match: Match) -> tuple[bool, bool]:
    """Whether a figure belongs to the product's code ('PMP-420') or name ('Servo 400W');
    a figure written as a count ('x4', '10 pcs', 'qty 10') is a quantity, whatever the name
    says ('10 x shielded cable 10m')."""
    code = match.code_span
    in_code = code is not None and code[0] <= number.start < code[1]
    figure = str(int(number.value)) if number.value.is_integer() else ""
    counted = bool(
        _COUNT_BEFORE.search(text[: number.start]) or _COUNT_AFTER.match(text[number.end :])
    )
    return in_code, figure in re.findall(r"\d+", match.name) and not counted


# What makes a message more than a plain order, for a person to read: a correction ("make that
# 12"), a question about prices, a cancellation, a payment, a question about an order already
# placed ("where is our order"), packs ("one two-pack"). Routed, never guessed at.
_NOT_PLAIN = re.compile(
    r"\b(?:make (?:it|that)|instead of|i meant|correction|scratch that|cancel\w*|"
    r"don'?t (?:book|order|ship)|do not (?:book|order|ship)|no order|just asking|"
    r"how much|what would|quot(?:e|ation)|paid|payment|remittance|where (?:is|are)|tracking"
    r"|status of|still waiting|was promised|(?:has|have)(?:n't| not) arrived"
    r"|for each|each of (?:them|those)"  # "one mount kit for each of them": how many?
    # packs and boxes: is the count of packs or of pieces?
    r"|\w+-packs?|(?:packs?|box(?:es)?|cases?|cartons?|pallets?) of)\b",
    re.I,
)
# Quoted mail: "> ..." lines, and everything after "-----Original Message-----" or "On ... wrote:".
_QUOTED = re.compile(r"^>.*$|^-{2,}\s*Original Message\s*-{2,}[\s\S]*|^On .+ wrote:[\s\S]*", re.M)
# A forward that asks to enter the order quoted below it.
# A forward that asks, plainly, to enter the order quoted below it ("please process the
# reorder below", "can you enter this one?"); not "did you process ...", not "do not ...".
_FORWARDED = re.compile(
    r"\b(?:please|kindly|can you|could you)(?:\s+please)?\s+(?:process|place|enter|book)\s+"
    r"(?:(?:this|it)\b(?!\s+(?:month|week|year|quarter|time))|[^.?!\n]*\bbelow\b)",
    re.I,
)
# A clause that asks for something by number ("please send 30") though it names no product.
_ORDERING = re.compile(
    r"\b(?:send|order|ship|deliver|book|supply|bestel\w*|liefer\w*|schick\w*|envoy\w*"
    r"|command\w*|mand\w*|envi\w*|pedi\w*|stuur\w*)\b",
    re.I,
)
# "3 flux capacitors", "5 x things": a count of something, ordered or not a person's to say.
_COUNTED = re.compile(
    rf"\s*(?:x|(?:{COUNT_UNITS})\.?|of)?\s*(?!(?:days?|weeks?|months?|years?|hours?"
    r"|minutes?|mins?|h|am|pm|percent|more|times|or|and|to|of)\b)[A-Za-z]{3,}",
    re.I,
)
UNSURE_ITEM = 0.25  # a clause this likely to be an order line is a person's call
WEAK_MATCH = 0.25  # a clause with a figure naming a product this vaguely ('5 HMI') too
SECOND_PRODUCT = 0.5  # a line's clause naming another product this well is a person's
NAMED = 0.7  # a clause whose match scores this names the product plainly
SINGLED_OUT = 0.9  # the score of a partial name that can only mean one product
TABLE_ROW = 0.95  # how sure a row under a quantity column is an order line, given its product
SOLE_FIGURE = 0.8  # how sure the one figure of an order line is its quantity, at least

_TOWN = re.compile(r"\s+[A-Z][a-z]+")
_POSTCODE_AND_TOWN = re.compile(r"\d{4,5}\s+[A-Z][a-z\u00e0-\u00ff-]+\.?")
# British and Dutch postcodes: "LS1 4AP", "SO53 4DR", "3089 JH"
_LETTERED_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b|\b\d{4}\s?[A-Z]{2}\b")
# ... or a town or a state and a ZIP code, as American addresses end: "Gotham Falls 40721".
_TOWN_AND_ZIP = re.compile(r"(?:(?:[A-Z][a-z]+\.?\s+){1,3}|[A-Z]{2}\s+)\d{5}(?:-\d{4})?\.?")
_CONTACT = re.compile(r"\b(?:phone|tel|mob|mobile|fax|call me|call us|t:)(?=\W)|\+\s?\d", re.I)
# "to start 2026", "in 2027": a year, not 2026 pieces.
_YEAR_CONTEXT = re.compile(
    r"\b(?:in|of|since|start|starting|year|for|until|till|by|from|end|early|late|mid)\s+$", re.I
)


def _a_year(text: str, number: NumberMention) -> bool:
    return 1990 <= number.value <= 2100 and bool(_YEAR_CONTEXT.search(text[: number.start]))


# A clause that is nothing but a count, and maybe its price: "qty 3.", "16 units at 96.00 =
# 1,536.00", "40 pieces in total" (not "2 units were bent").
_ONLY_A_COUNT = re.compile(
    rf"\s*(?:(?:{QUANTITY_LABELS})\s*[:.]?\s*)?\d+\s*(?:x|{COUNT_UNITS})?\b\.?"
    r"(?:\s*(?:at|@|\u00e0|a|x)\s*[\d.,]+(?:\s*(?:=|each|ea\.?)\s*[\d.,]*)?)?"
    r"(?:\s*(?:in total|in all|total|insgesamt|au total|en total))?\s*\.?\s*",
    re.I,
)


def _rejoined(
    segments: list[Segment], text: str, matcher: NameMatcher, today: date
) -> list[Segment]:
    """A product and its count that a comma split ("Diaphragm Pump PMP-420, qty 3", "Roller
    Bearing 22210, 16 units at 96.00"), one clause again: the first names a product and has
    no count, the next has a count and names nothing."""
    joined: list[Segment] = []
    for segment in segments:
        if joined and "\n" not in text[joined[-1].end : segment.start]:
            named, counted = matcher.best(joined[-1].text), matcher.best(segment.text)
            if (
                named is not None
                and named.score >= MIN_MATCH_SCORE
                and not _figures(joined[-1].text, named, today)
                and (counted is None or counted.score < WEAK_MATCH)
                and _ONLY_A_COUNT.fullmatch(segment.text)
            ):
                start = joined[-1].start
                joined[-1] = Segment(start, segment.end, text[start : segment.end])
                continue
        joined.append(segment)
    return joined


def _an_ordinal(text: str, number: NumberMention) -> bool:
    """A list's numbering where a line opens: "1) Standard Widget - 50", "2. MOT-520 x8"."""
    opens = re.fullmatch(r"\s*[(#]?", text[: number.start]) is not None
    return opens and re.match(r"[.)](?:\s|$)", text[number.end :]) is not None


def _a_postcode(text: str, number: NumberMention) -> bool:
    """Five digits after a comma and before a town: "Candy Lane 27, 90210 Springfield", or
    a clause that is only a postcode and a town: "69007 Lyon." (an address split at a comma),
    or a town and a ZIP code: "Gotham Falls 40721", "CA 94043", or a British or Dutch postcode."""
    if _TOWN_AND_ZIP.fullmatch(text.strip()) or any(
        found.start() <= number.start < found.end() for found in _LETTERED_POSTCODE.finditer(text)
    ):
        return True
    if _TOWN.match(text[number.end :]) is None:
        return False
    after_comma = number.end - number.start == 5 and re.search(r",\s*$", text[: number.start])
    return bool(after_comma) or _POSTCODE_AND_TOWN.fullmatch(text.strip()) is not None


def _candidates(text: str, today: date) -> list[NumberMention]:
    """The figures of a clause that may be a quantity (see _NOT_BEFORE); none after a phone
    number's label or its "+"."""
    dates = [(mention.start, mention.end) for mention in find_dates(text, today)]
    contact = _CONTACT.search(text)
    return [
        number
        for number in find_numbers(text, words=True)
        if (contact is None or number.start < contact.start())
        and 1 <= number.value <= MAX_QUANTITY
        and number.value.is_integer()
        and number.decimals == 0
        and not (text[number.start] == "0" and not number.in_words)  # 00010: an item number
        and not _NOT_BEFORE.search(text[: number.start])
        and not _NOT_AFTER.search(text[number.end :])
        and not any(start <= number.start < end for start, end in dates)
        and not _a_year(text, number)
        and not _an_ordinal(text, number)
        and not _a_postcode(text, number)
    ]


def _figures(text: str, match: Match | None, today: date) -> list[NumberMention]:
    """The clause's figures that may be a quantity: the product's own (PMP-420, Servo 400W)
    are none unless multiplied, when the clause names the product at all ("Vanne papillon 4
    pouces" does not name the Butterfly Valve 4 inch well enough to take its 4)."""
    return [
        number
        for number in _candidates(text, today)
        if match is None
        or match.score < MIN_MATCH_SCORE
        or not any(_part_of_product(text, number, match))
    ]


def _annotated(text: str, match: Match | None) -> str:
    """The clause plus marker words for what the parsers found in it (a product, a figure
    that is not part of the product's code or name), so the line classifier weighs those
    findings together with the wording."""
    score = match.score if match else 0.0
    product = "xxproduct" if score >= NAMED else "xxmaybe" if score >= MIN_MATCH_SCORE else "xxnone"
    figures = [
        number
        for number in find_numbers(text, words=True)
        if match is None or not any(_part_of_product(text, number, match))
    ]
    return f"{text} {product} {'xxfigure' if figures else 'xxnofigure'}"


def _glued_letters(text: str, start: int, end: int) -> tuple[str, str]:
    """Letters stuck to a figure on either side: 'x20' -> ('x', ''), '400W' -> ('', 'w')."""
    before = re.search(r"[A-Za-z]*$", text[:start])
    after = re.match(r"[A-Za-z]*", text[end:])
    return (before[0].lower() if before else ""), (after[0].lower() if after else "")


def _quantity_features(text: str, number: NumberMention, match: Match) -> Features:
    features = span_context(text, number.start, number.end)
    before, after = _glued_letters(text, number.start, number.end)
    in_code, in_name = _part_of_product(text, number, match)
    features.update(
        {
            "glued_before": before,
            "glued_after": after,
            "in_words": float(number.in_words),
            "fraction": float(not number.value.is_integer()),
            "in_code": float(in_code),
            "in_name": float(in_name),
        }
    )
    return features


def _table_lines(
    found: Sequence[Table], matcher: NameMatcher, catalogue: Sequence[CatalogueItem]
) -> tuple[list[ExtractedOrderLine], list[str]]:
    """The order lines of pasted tables, read by column; a row whose product or quantity
    cannot be read, that names two products (two codes, or a code and another's name), or
    a product twice with two quantities, is a person's."""
    lines: list[ExtractedOrderLine] = []
    unresolved: list[str] = []
    for row in (row for table in found for row in table.rows):
        match = matcher.best(row.product)
        text = row.segment.text.strip()
        if (
            row.quantity is None
            or match is None
            or match.score < MIN_MATCH_SCORE
            or len(set(_codes_in(row.product, catalogue))) > 1
            or _names_another(row.product, match, matcher)
        ):
            unresolved.append(text)
        elif row.quantity == 0:
            continue  # "Order qty 0" on a stock sheet: not ordered
        elif any(line.sku == match.key for line in lines):
            unresolved.append(text)
        elif row.quantity <= MAX_QUANTITY:
            lines.append(
                ExtractedOrderLine(
                    sku=match.key,
                    quantity=row.quantity,
                    source_text=text,
                    confidence=TABLE_ROW * match.quality,
                )
            )
        else:
            unresolved.append(text)
    return lines, unresolved


def _quoted(
    text: str,
    lines: Sequence[ExtractedOrderLine],
    found: Sequence[Table],
    segments: Sequence[Segment],
    item_odds: Sequence[dict[str, float]],
) -> list[str]:
    """What quoted mail holds that looks like order lines (an earlier order?): a person's,
    unless the message itself orders nothing and asks for what it quotes ("please process the
    reorder below")."""
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)]

    def in_quote(start: int) -> bool:
        return any(a <= start < b for a, b in quoted)

    rows = [
        row.segment.text.strip() for table in found if in_quote(table.start) for row in table.rows
    ]
    in_quotes = [segment.text.strip() for segment in segments if in_quote(segment.start)]
    own = [line for line in lines if line.source_text not in {*rows, *in_quotes}]
    if _FORWARDED.search(_QUOTED.sub("", text)) and not own:
        return []
    likely = [
        segment.text.strip()
        for segment, odds in zip(segments, item_odds, strict=True)
        if in_quote(segment.start) and odds[ITEM] >= UNSURE_ITEM
    ]
    return rows + likely


def _names_another(
    text: str, match: Match, matcher: NameMatcher, quantity: int | None = None
) -> bool:
    """Whether `text` names a second product besides `match`'s, or another size or model of it
    ("Lithium Battery Pack 24V", "Ball Bearing 6205"): what was read as one line may be two, or
    a product the catalogue lacks."""
    second = matcher.another(text, match)
    return (second is not None and second.score >= SECOND_PRODUCT) or _other_variant(
        text, match, quantity
    )


# A size or a rating as written: "24V", "10 m", '6"', "2 inch", "4 pouces".
_SIZE = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?)\s?(kw|w|v|mm|cm|m|kg|ah|mah|hz|bar|psi|nm|\"|inch(?:es)?|in|pouces?"
    r"|zoll)(?![\w])",
    re.I,
)
_INCH = {'"', "inch", "inches", "in", "pouce", "pouces", "zoll"}
_MODEL = re.compile(r"(?<![\w.,/:-])\d{4,6}(?![\w.,/:-])")  # a model number: 6204, 22210


def _sizes(text: str) -> set[tuple[str, float]]:
    found = set()
    for size in _SIZE.finditer(text):
        unit = size[2].lower()
        found.add(("inch" if unit in _INCH else unit, float(size[1].replace(",", "."))))
    return found


def _other_variant(text: str, match: Match, quantity: int | None) -> bool:
    """A size the product's name has in another value (a 24V pack where the name says 48V), or
    a model number of the same length that differs from the name's (6205 for 6204) and is not
    the line's `quantity`."""
    text = match.without_code(text)
    named = _sizes(match.name)
    units = {unit for unit, _ in named}
    if any(unit in units and size not in named for size in _sizes(text) for unit in [size[0]]):
        return True
    models = set(_MODEL.findall(match.name))
    lengths = {len(model) for model in models}
    return any(
        len(m) in lengths and m not in models and int(m) != quantity and not 1990 <= int(m) <= 2100
        for m in _MODEL.findall(text)
    )


def _codes_in(text: str, catalogue: Sequence[CatalogueItem]) -> list[str]:
    """The catalogue's SKUs written in the text as codes ('WID-300', 'wid300'), in order."""
    written = codes_written(text)
    return [item.sku for item in catalogue if normalize_code(item.sku) in written]


def _future_dates(text: str, today: date) -> list[DateMention]:
    """Nobody asks for a delivery in the past: such dates refer to what already happened."""
    return [mention for mention in find_dates(text, today) if mention.value >= today]


def _date_features(text: str, mention: DateMention, today: date) -> Features:
    features = span_context(text, mention.start, mention.end)
    ahead = (mention.value - today).days
    features.update(
        {
            "relative": float(mention.relative),
            "ahead": "past"
            if ahead < 0
            else "week"
            if ahead <= 7
            else "quarter"
            if ahead <= 92
            else "far",
        }
    )
    return features


class OrderExtractor:
    def __init__(
        self,
        examples: Sequence[OrderExample],
        catalogue: Sequence[CatalogueItem],
        aliases: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._aliases = list(aliases)
        matcher = _catalogue_matcher(catalogue, self._aliases)
        self._matcher = (tuple((item.sku, item.name) for item in catalogue), matcher)
        # The words of ordinary order messages, products' names aside (see _identified).
        self.known_words = frozenset(word for example in examples for word in words(example.text))
        texts, kinds = [], []
        quantity_features, quantity_labels = [], []
        date_features, date_labels = [], []
        for example in examples:
            for segment in clauses(example.text):
                line = _labelled_line(segment, example.text, example.lines)
                match = self._identified(segment.text, matcher)
                texts.append(_annotated(segment.text, match))
                kinds.append(ITEM if line else OTHER)
                if line is None or match is None:
                    continue
                for number in _candidates(segment.text, example.today):
                    quantity_features.append(_quantity_features(segment.text, number, match))
                    quantity_labels.append(QUANTITY if number.value == line.quantity else OTHER)
            for mention in _future_dates(example.text, example.today):
                date_features.append(_date_features(example.text, mention, example.today))
                date_labels.append(REQUESTED if mention.value == example.requested_date else OTHER)
        self._segments = TextClassifier(texts, kinds, char_ngrams=SHORT_TEXT_NGRAMS)
        self._quantities = SpanTagger(quantity_features, quantity_labels)
        self._dates = SpanTagger(date_features, date_labels)

    def extract(self, request: ExtractOrderRequest) -> ExtractOrderResult:
        matcher = self._matcher_for(request.catalogue)
        found = layouts(request.text)
        lines, unresolved = _table_lines(found, matcher, request.catalogue)
        segments = _rejoined(
            [
                segment
                for segment in clauses(request.text)
                if not any(table.start <= segment.start < table.end for table in found)
            ],
            request.text,
            matcher,
            request.today,
        )
        matches = [self._identified(segment.text, matcher) for segment in segments]
        item_odds = self._segments.probabilities(
            [
                _annotated(segment.text, match)
                for segment, match in zip(segments, matches, strict=True)
            ]
        )
        figures = [
            _figures(segment.text, match, request.today)
            for segment, match in zip(segments, matches, strict=True)
        ]
        read = list(zip(segments, matches, item_odds, figures, strict=True))
        unread: list[tuple[str, Match | None, list[NumberMention]]] = []  # item-like, no line
        for segment, match, odds, numbers in read:
            if odds[ITEM] < 0.5:
                continue
            line = self._line(segment.text, match, odds[ITEM], numbers)
            if (
                line is not None
                and match is not None
                and _names_another(segment.text, match, matcher, line.quantity)
            ):
                unresolved.append(segment.text.strip())  # one figure, two products
            first = next((seen for seen in lines if line and seen.sku == line.sku), None)
            if line is None:
                unread.append((segment.text.strip(), match, numbers))
            elif first is None:
                lines.append(line)
            elif first.quantity != line.quantity:  # "make that 12": which one is meant?
                unresolved.append(segment.text.strip())
        taken = {line.sku for line in lines}
        # A clause that names a product a line took, with no figure but the product's own
        # ("oh and 10 ethernet cables, cat6 5m"), says nothing new; any other is a person's.
        unresolved += [
            text
            for text, match, numbers in unread
            if numbers or match is None or match.score < MIN_MATCH_SCORE or match.key not in taken
        ]
        # A product code written in the message that no line took: a line missed, or a
        # mention a person should judge; either way no one-sided answer goes through.
        unresolved += [
            sku
            for segment, _, odds, numbers in read
            if odds[ITEM] >= UNSURE_ITEM or _ORDERING.search(segment.text) or numbers
            for sku in _codes_in(segment.text, request.catalogue)
            if sku not in taken
        ]
        unresolved += [
            segment.text.strip()
            for segment, match, odds, numbers in read
            if odds[ITEM] < 0.5
            and (match is None or match.key not in taken)  # a product ordered, named again
            and numbers
            and (
                odds[ITEM] >= UNSURE_ITEM
                or (match is not None and WEAK_MATCH <= match.score < MIN_MATCH_SCORE)
                or _ORDERING.search(segment.text)
                or any(_COUNTED.match(segment.text[n.end :]) for n in numbers)
            )
        ]
        # A product named plainly that no line took ("and the matching hydraulic oil filters"):
        # ordered in words not read (how many?), or only mentioned; a person tells which.
        unresolved += [
            segment.text.strip()
            for segment, match, odds, numbers in read
            if UNSURE_ITEM <= odds[ITEM] < 0.5
            and not numbers
            and match is not None
            and match.score >= NAMED
            and match.key not in taken
        ]
        unresolved += _quoted(request.text, lines, found, segments, item_odds)
        if lines and (cue := _NOT_PLAIN.search(request.text)):
            unresolved.append(f"the message says {cue[0]!r}")
        requested, date_confidence = self._requested_date(request.text, request.today)
        # As sure as the weakest part; nothing found is nothing to be sure of.
        weakest = [line.confidence for line in lines] + ([date_confidence] if requested else [])
        if unresolved:
            weakest.append(0.3)  # something looked like an order line but named no product
        return ExtractOrderResult(
            lines=lines,
            requested_date=requested,
            unresolved=unresolved,
            confidence=min(weakest) if lines else 0.0,
        )

    def _line(
        self, text: str, match: Match | None, item_odds: float, numbers: list[NumberMention]
    ) -> ExtractedOrderLine | None:
        """The clause's order line, its quantity among `numbers` (its _figures)."""
        if match is None or match.score < MIN_MATCH_SCORE:
            return None
        odds = self._quantities.probabilities([_quantity_features(text, n, match) for n in numbers])
        if not odds:
            return None
        ranked = sorted(
            zip((row[QUANTITY] for row in odds), numbers, strict=True), key=lambda pair: -pair[0]
        )
        quantity_odds, number = ranked[0]
        # The same count twice ("1 (one)", "40 ... 40 pieces in total") is no rival.
        rivals = [odds for odds, rival in ranked[1:] if rival.value != number.value]
        if not rivals:  # an order line's one figure that is not the product's
            quantity_odds = max(quantity_odds, SOLE_FIGURE)
        else:  # as sure as the runner-up is unlikely: two likely figures are a person's call
            quantity_odds *= 1 - rivals[0]
        if quantity_odds < 0.5:
            return None  # only figures of the product itself: mentioned, not ordered
        return ExtractedOrderLine(
            sku=match.key,
            quantity=round(number.value),
            source_text=text.strip(),
            confidence=item_odds * match.quality * quantity_odds,
        )

    def _matcher_for(self, catalogue: Sequence[CatalogueItem]) -> NameMatcher:
        """The matcher of a catalogue, kept while requests name the same one: it remembers
        which written words resemble which name words."""
        key = tuple((item.sku, item.name) for item in catalogue)
        if self._matcher[0] != key:
            self._matcher = (key, _catalogue_matcher(catalogue, self._aliases))
        return self._matcher[1]

    def _identified(self, text: str, matcher: NameMatcher) -> Match | None:
        """The product `text` names: the matcher's best, taken as sure (SINGLED_OUT) where a
        partial name can only mean that one product and no word in its mention is new (see
        NameMatcher.singled_out): "5 HMI", "stepper motors"."""
        match = matcher.best(text)
        if (
            match is not None
            and WEAK_MATCH <= match.score < SINGLED_OUT
            and matcher.singled_out(text, match, self.known_words)
        ):
            return replace(match, score=SINGLED_OUT, margin=1.0)
        return match

    def _requested_date(self, text: str, today: date) -> tuple[date | None, float]:
        mentions = _future_dates(text, today)
        odds = self._dates.probabilities([_date_features(text, m, today) for m in mentions])
        scored = sorted(
            zip((row[REQUESTED] for row in odds), mentions, strict=True), key=lambda p: -p[0]
        )
        if not scored or scored[0][0] < 0.5:
            return None, 1.0
        return scored[0][1].value, scored[0][0]
