"""Cuts a text into lines, and lines into clauses, keeping where each piece sits in the text."""

import re
from dataclasses import dataclass

# A table row keeps its cells together; prose splits at commas, semicolons and "and".
_TABLE_ROW = re.compile(r"\||\t| {3,}")
# A pasted CSV row: cells separated by commas with no space after them ("BRG-810,2000").
_CSV_ROW = re.compile(r"[^,\s][^,]*(?:,[^,\s][^,]*)+")
_DATA_CELL = re.compile(r"[A-Za-z]{2,6}-?\d{2,8}|\d[\d.]*")  # a product code, or a figure


def _csv_row(text: str) -> bool:
    """Comma-separated cells, most of them codes or figures ("BRG-810,2000"): not prose that
    lacks a space after its commas ("Hi,please send 5 ball valves,3 sensors")."""
    if not _CSV_ROW.fullmatch(text):
        return False
    cells = text.split(",")
    data = sum(bool(_DATA_CELL.fullmatch(cell.strip())) for cell in cells)
    return data >= 2 and 2 * data >= len(cells)


# A comma with a digit right after it groups thousands (1,200) and is no break.
# "and" inside a number in words ("three hundred and fifty") is no break either.
# A sentence ends at a full stop, a question or an exclamation mark before a capital ("...
# PMP-410. Delivery to 12 Mill Road"), but not at an abbreviation that a count or a code
# follows ("120 Stk. SEN-230", "Pos. 2"). "and" is also "und", "sowie", "en", "et", "ainsi
# que", "y", "e" in the messages of German, Dutch, French, Spanish and Italian customers.
# (A slash is no break, "pumps / quantity 4" is one line, but between a count and a code.)
_CLAUSE_BREAK = re.compile(
    r";\s*|,(?!\d)\s*|\s+\+\s+"
    r"|(?:(?<!\bstk)(?<!\bpcs)(?<!\bpos)(?<!\bart)(?<!\bnr)(?<!\bno)(?<!\bref)\.|[?!])"
    r"\s+(?=(?-i:[A-Z]))"
    # "valves,3 sensors": a comma before a count of something (not 1,200 or 19,95 EUR)
    r"|,(?!\d{3}(?!\d))(?=\d+\s*(?!(?:eur|usd|gbp|chf)\b)[a-z]{2})"
    r"|(?<!hundred)(?<!thousand)\s+(?:and|plus|as well as|&|und|sowie|en|et|ainsi que|y|e)\s+"
    # a slash between one item's count and the next item's code: "WID-300 - 12 / WID-100 - 120"
    r"|(?<=\d)\s+/\s+(?=[A-Za-z]{2,6}-?\d{2,8}\b)",
    re.I,
)


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str


def lines(text: str) -> list[Segment]:
    """The non-blank lines of `text`."""
    found = []
    for match in re.finditer(r"[^\n]+", text):
        if match[0].strip():
            found.append(Segment(match.start(), match.end(), match[0]))
    return found


# A chat export's speaker and time before each message: "[09:14] Priya Raman (Hooli):".
_CHAT_PREFIX = re.compile(r"\s*\[\d{1,2}:\d{2}(?::\d{2})?\]\s*[^:\]\n]{1,60}:\s*")


def _message(line: Segment) -> Segment:
    """A line without its chat prefix, if any (the time is no quantity, the name no product)."""
    prefix = _CHAT_PREFIX.match(line.text)
    if prefix is None:
        return line
    return Segment(line.start + prefix.end(), line.end, line.text[prefix.end() :])


def clauses(text: str) -> list[Segment]:
    """Lines, with prose lines cut at clause breaks, so one order line is one segment."""
    found = []
    for line in map(_message, lines(text)):
        if not line.text.strip():
            continue  # a chat prefix alone
        if _TABLE_ROW.search(line.text):
            found.append(line)
            continue
        if _csv_row(line.text):  # its cells apart, as a table row's (same offsets)
            found.append(Segment(line.start, line.end, line.text.replace(",", "\t")))
            continue
        start = 0
        for match in [*_CLAUSE_BREAK.finditer(line.text), None]:
            end = match.start() if match else len(line.text)
            if line.text[start:end].strip():
                found.append(Segment(line.start + start, line.start + end, line.text[start:end]))
            start = match.end() if match else start
    return found
