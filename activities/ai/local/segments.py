"""Cuts a text into lines, and lines into clauses, keeping where each piece sits in the text."""

import re
from dataclasses import dataclass

# A table row keeps its cells together; prose splits at commas, semicolons and "and".
_TABLE_ROW = re.compile(r"\||\t| {3,}")
# A comma with a digit right after it groups thousands (1,200) and is no break.
_CLAUSE_BREAK = re.compile(r";\s*|,(?!\d)\s*|\s+(?:and|plus|as well as|&)\s+", re.I)


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


def clauses(text: str) -> list[Segment]:
    """Lines, with prose lines cut at clause breaks, so one order line is one segment."""
    found = []
    for line in lines(text):
        if _TABLE_ROW.search(line.text):
            found.append(line)
            continue
        start = 0
        for match in [*_CLAUSE_BREAK.finditer(line.text), None]:
            end = match.start() if match else len(line.text)
            if line.text[start:end].strip():
                found.append(Segment(line.start + start, line.start + end, line.text[start:end]))
            start = match.end() if match else start
    return found
