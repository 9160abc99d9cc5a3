"""Pasted tables (a header row that names the quantity column, and the rows under it) and
form records ("Item: Humidity Sensor / SKU: SEN-230 / Qty: 12", a line each).

A table says which figure is the quantity (the column headed "Qty", "Menge", "Aantal", ...), so
its rows are read by column instead of guessed at clause by clause like prose: the price, the
position number and the product's own figures ("Ball Bearing 6204") stay in their columns. Pipe
tables, tab- or semicolon-separated exports, CSV and fixed-width purchase-order layouts (cells
two or more spaces apart) are all the same shape once split. A record is a one-row table whose
header is in its labels.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from activities.ai.local.numbers import find_numbers, parse_number
from activities.ai.local.segments import Segment, lines

# The header of the quantity column, in the languages customers write in.
_QUANTITY_HEADER = re.compile(
    r"(?:order(?:ed)?\s+|bestell)?(?:qty|quantity|quantities|menge|anzahl|st(?:\u00fc|ue)ck"
    r"|stk|aantal|qt[e\u00e9]|quantit[e\u00e9]|cantidad|cant|quantit\u00e0|pcs|pieces|units)\.?",
    re.I,
)
# How cells are apart, tried in turn: the first that splits the header into cells wins. A
# comma counts only with no space after it (CSV), not in prose ("Quantity, please confirm").
_DELIMITERS = (re.compile(r"\|"), re.compile(r"\t"), re.compile(r";"), re.compile(r",(?! )"))
_SPACED = re.compile(r" {2,}")  # fixed-width columns
_RULE = re.compile(r"[\s|:+=-]+")  # a pipe table's |----|----| line
_COUNT = re.compile(r"(\d[\d.,']*)\s*(?:pcs|pc|stk|st|ea|units?|x)?\.?", re.I)
_TOTAL = re.compile(r"\b(?:total|sum|summe|gesamt|totaal|totale)\b", re.I)
_FIGURE_CELL = re.compile(r"[\d.,'\s]+")  # a position number, a price: no product in it
_FIELD = re.compile(r"\s*(?P<label>[^\W\d][\w .#/-]{0,29}?)\s*:\s*(?P<value>\S.*)")


@dataclass(frozen=True)
class TableRow:
    segment: Segment  # the row as written, where it is in the message
    product: str  # the cells that may name the product (not the quantity, not bare figures)
    quantity: int | None  # None when the quantity cell holds no whole count


@dataclass(frozen=True)
class Table:
    start: int  # from the header ...
    end: int  # ... to the end of the last row
    rows: list[TableRow]


def _cells(text: str, delimiter: re.Pattern[str], framed: bool = False) -> list[str]:
    """The cells of a line; `framed`: a pipe table with a | at each end of its lines."""
    text = text.strip()
    if framed:
        text = text.removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in delimiter.split(text)]


def _header(text: str) -> tuple[re.Pattern[str], int] | None:
    """How a header line is split and which of its cells heads the quantity: exactly one cell
    (two quantity columns, ordered and delivered, are a person's to read), among cells that
    hold no figures."""
    for delimiter in (*_DELIMITERS, _SPACED):
        cells = _cells(text, delimiter, _framed(text, delimiter))
        if len(cells) < 2 or any(re.search(r"\d", cell) for cell in cells):
            continue
        heads = [i for i, cell in enumerate(cells) if _QUANTITY_HEADER.fullmatch(cell)]
        if len(heads) == 1:
            return delimiter, heads[0]
    return None


def _framed(header: str, delimiter: re.Pattern[str]) -> bool:
    header = header.strip()
    return delimiter.pattern == r"\|" and header.startswith("|") and header.endswith("|")


def _count(cell: str) -> int | None:
    """'24', '1,500', '20 pcs', 'two dozen' -> the whole count; anything else (a price, a
    word) -> None."""
    found = _COUNT.fullmatch(cell)
    if found is None:
        numbers = find_numbers(cell, words=True)
        spelled = len(numbers) == 1 and numbers[0].in_words
        if spelled and _COUNT.fullmatch(cell[: numbers[0].start] + "1" + cell[numbers[0].end :]):
            return int(numbers[0].value)
        return None
    parsed = parse_number(found[1])
    if parsed is None or parsed[1] or not parsed[0].is_integer():
        return None
    return int(parsed[0])


def _row(segment: Segment, cells: list[str], column: int) -> TableRow | None:
    """A row of the table, or None for a row that orders nothing: a totals row, a row of
    empty cells."""
    others = [cell for i, cell in enumerate(cells) if i != column]
    product = "  ".join(c for c in others if c and not _FIGURE_CELL.fullmatch(c))
    if not product or _TOTAL.search(product):
        return None
    return TableRow(segment, product, _count(cells[column]))


def _blank_line_between(text: str, end: int, start: int) -> bool:
    return text[end:start].count("\n") > 1


def layouts(text: str) -> list[Table]:
    """Every table and record in `text`, in order."""
    return sorted([*tables(text), *records(text)], key=lambda table: table.start)


def records(text: str) -> Iterator[Table]:
    """Form records: runs of "Label: value" lines, one of them labelled as the quantity; a
    label seen again starts the next record."""
    fields: list[tuple[Segment, str, str]] = []
    for segment in lines(text):
        field = _FIELD.fullmatch(segment.text)
        if field is None or (
            fields and _blank_line_between(text, fields[-1][0].end, segment.start)
        ):
            yield from _records_of(fields)
            fields = []
        if field is not None:
            fields.append((segment, field["label"].strip().lower(), field["value"].strip()))
    yield from _records_of(fields)


def _records_of(fields: list[tuple[Segment, str, str]]) -> Iterator[Table]:
    record: list[tuple[Segment, str, str]] = []
    for field in [*fields, None]:
        if field is None or any(label == field[1] for _, label, _ in record):
            heads = [
                i for i, (_, label, _) in enumerate(record) if _QUANTITY_HEADER.fullmatch(label)
            ]
            if len(heads) == 1 and len(record) >= 2:
                first, last = record[0][0], record[-1][0]
                cells = [value for _, _, value in record]
                row = _row(Segment(first.start, last.end, " / ".join(cells)), cells, heads[0])
                if row is not None:
                    yield Table(first.start, last.end, [row])
            record = []
        if field is not None:
            record.append(field)


def tables(text: str) -> Iterator[Table]:
    """The tables in `text`: a header line naming the quantity column, and the lines under it
    that split into as many cells the same way (a |----| rule between them is skipped)."""
    found = lines(text)
    index = 0
    while index < len(found):
        header = _header(found[index].text)
        if header is None:
            index += 1
            continue
        delimiter, column = header
        framed = _framed(found[index].text, delimiter)
        width = len(_cells(found[index].text, delimiter, framed))
        start, end, rows = found[index].start, found[index].end, []
        index += 1
        while index < len(found):
            segment = found[index]
            if _blank_line_between(text, end, segment.start):
                break
            if _RULE.fullmatch(segment.text):
                end, index = segment.end, index + 1
                continue
            cells = _cells(segment.text, delimiter, framed)
            if len(cells) != width:
                break
            if (row := _row(segment, cells, column)) is not None:
                rows.append(row)
            end, index = segment.end, index + 1
        if rows:
            yield Table(start, end, rows)
