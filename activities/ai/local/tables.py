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

from activities.ai.local.numbers import COUNT_UNITS, QUANTITY_LABELS, find_numbers, parse_number
from activities.ai.local.segments import Segment, lines

# The header of the quantity column, in the languages customers write in.
_QUANTITY_HEADER = re.compile(
    rf"(?:order(?:ed)?\s+|bestell)?(?:{QUANTITY_LABELS}|{COUNT_UNITS})\.?", re.I
)
# How cells are apart, tried in turn: the first that splits the header into figure-free cells
# with one quantity column wins. A comma counts only with no space after it (CSV), not in
# prose ("Quantity, please confirm").
_DELIMITERS = (re.compile(r"\|"), re.compile(r"\t"), re.compile(r";"), re.compile(r",(?! )"))
_SPACED = re.compile(r" {2,}")  # fixed-width columns
_RULE = re.compile(r"[\s|:+=-]+")  # a pipe table's |----|----| line
_COUNT = re.compile(rf"(\d[\d.,']*)\s*(?:{COUNT_UNITS}|x)?\.?", re.I)
# A totals row: its first cell of text says so.
_TOTAL = re.compile(r"(?:sub)?totals?\b|sum\b|summe|gesamt|totaal|totale", re.I)
# Packs, boxes, pallets: is the count of packs or of pieces? A person's to say.
_PACKED = re.compile(r"box(?:es)?|bx|ctns?|cartons?|packs?|pk|cases?|pallets?|plt|pack size", re.I)
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


def _packed(cells: list[str]) -> bool:
    """A header with a column of pack sizes or of packs: its rows' counts are of what?"""
    return any(_PACKED.fullmatch(cell) for cell in cells)


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


def _row(segment: Segment, cells: list[str], column: int, packed: bool = False) -> TableRow | None:
    """A row of the table, or None for a row that orders nothing: a totals row, a row of
    empty cells. A row counted in packs (a "BOX" cell, or a `packed` table: a "Pack size"
    column) has no count a line can take: a person reads it."""
    texts = [c for i, c in enumerate(cells) if i != column and c and not _FIGURE_CELL.fullmatch(c)]
    if not texts or _TOTAL.match(texts[0]):
        return None
    in_packs = packed or any(_PACKED.fullmatch(cell) for cell in texts)
    return TableRow(segment, "  ".join(texts), None if in_packs else _count(cells[column]))


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
    """The records of a run of fields. One with a quantity and nothing else ("Qty: 12" again),
    or with two quantities, is a row of no product: a person's to read."""
    record: list[tuple[Segment, str, str]] = []
    for field in [*fields, None]:
        if field is None or any(label == field[1] for _, label, _ in record):
            heads = [
                i for i, (_, label, _) in enumerate(record) if _QUANTITY_HEADER.fullmatch(label)
            ]
            if heads:
                first, last = record[0][0], record[-1][0]
                cells = [value for _, _, value in record]
                segment = Segment(first.start, last.end, " / ".join(cells))
                single = len(heads) == 1 and len(record) >= 2
                row = _row(segment, cells, heads[0]) if single else None
                yield Table(first.start, last.end, [row or TableRow(segment, "", None)])
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
        head = _cells(found[index].text, delimiter, framed)
        width, packed = len(head), _packed(head)
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
            if (row := _row(segment, cells, column, packed)) is not None:
                rows.append(row)
            end, index = segment.end, index + 1
        if rows:
            yield Table(start, end, rows)
