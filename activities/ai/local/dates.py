"""Finds the dates in a text: absolute ones in the usual notations, and relative ones.

Relative expressions count from a given `today`, never from the wall clock, so the same text gives
the same answer on any day. Conventions: "next Friday" is the Friday of the next calendar week;
"Friday" or "this Friday" the first Friday after today; "end of the week" its Friday; a date with
no year is its next occurrence from today; numeric dates are day first unless that is impossible.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from activities.ai.local.numbers import WORD_VALUES

_MONTHS = {
    name: number
    for number, full in enumerate(calendar.month_name[1:], start=1)
    for name in {full.lower(), full.lower()[:3], "sept" if number == 9 else full.lower()[:3]}
}
_WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_COUNT = r"(\d{1,2}|" + "|".join(name for name, value in WORD_VALUES.items() if value <= 31) + ")"
_WEEKDAY = "(" + "|".join(_WEEKDAYS) + ")"

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
# 20.11.2026, 20/11/26, and with dashes only with the full year (20-11-2026; not "14-16").
_NUMERIC = re.compile(r"\b(\d{1,2})(?:([./])(\d{1,2})\2(\d{4}|\d{2})|-(\d{1,2})-(\d{4}))\b")
_DAY_MONTH = re.compile(rf"\b{_DAY}(?:\s+of)?[\s-]+{_MONTH}(?:[\s,-]+(\d{{4}}))?\b", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+(\d{{4}})\b)?", re.I)
_WITHIN = re.compile(
    rf"\b(?:within|in|inside)(?:\s+the\s+next)?\s+{_COUNT}\s+(day|week|month)s?\b", re.I
)
_FROM_NOW = re.compile(rf"\b{_COUNT}\s+(day|week)s?\s+from\s+(?:now|today)\b", re.I)
_END_OF = re.compile(r"\b(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(next\s+)?(week|month)\b", re.I)
_NEXT_WEEKDAY = re.compile(rf"\bnext\s+{_WEEKDAY}\b", re.I)
_WEEKDAY_ALONE = re.compile(rf"\b(?:this\s+(?:coming\s+)?)?{_WEEKDAY}\b", re.I)
_TOMORROW = re.compile(r"\btomorrow\b", re.I)


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    value: date
    relative: bool


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_occurrence(month: int, day: int, today: date | None) -> date | None:
    if today is None:
        return None  # no year and nothing to infer it from
    found = _valid(today.year, month, day)
    if found is not None and found < today:
        found = _valid(today.year + 1, month, day)
    return found


def _count(text: str) -> int:
    return int(text) if text.isdigit() else WORD_VALUES[text.lower()]


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _absolute(match: re.Match[str], pattern: re.Pattern[str], today: date | None) -> date | None:
    if pattern is _ISO:
        return _valid(int(match[1]), int(match[2]), int(match[3]))
    if pattern is _NUMERIC:
        first, second = int(match[1]), int(match[3] or match[5])
        year = int(match[4] or match[6])
        year += 2000 if year < 100 else 0
        day, month = (second, first) if second > 12 else (first, second)
        return _valid(year, month, day)
    if pattern is _DAY_MONTH:
        day, month, written_year = int(match[1]), _MONTHS[match[2].lower()], match[3]
    else:
        month, day, written_year = _MONTHS[match[1].lower()], int(match[2]), match[3]
    if written_year:
        return _valid(int(written_year), month, day)
    return _next_occurrence(month, day, today)


def _relative(match: re.Match[str], pattern: re.Pattern[str], today: date) -> date:
    if pattern is _WITHIN:
        count, unit = _count(match[1]), match[2].lower()
        if unit == "month":
            return _add_months(today, count)
        return today + timedelta(days=count * (7 if unit == "week" else 1))
    if pattern is _FROM_NOW:
        return today + timedelta(days=_count(match[1]) * (7 if match[2].lower() == "week" else 1))
    if pattern is _END_OF:
        ahead = 1 if match[1] else 0
        if match[2].lower() == "week":
            return today - timedelta(days=today.weekday()) + timedelta(days=7 * ahead + 4)
        month_start = _add_months(today.replace(day=1), ahead)
        return month_start.replace(day=calendar.monthrange(month_start.year, month_start.month)[1])
    if pattern is _NEXT_WEEKDAY:
        next_monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return next_monday + timedelta(days=_WEEKDAYS[match[1].lower()])
    if pattern is _WEEKDAY_ALONE:
        return today + timedelta(days=(_WEEKDAYS[match[1].lower()] - today.weekday()) % 7 or 7)
    return today + timedelta(days=1)


_ABSOLUTE = (_ISO, _NUMERIC, _DAY_MONTH, _MONTH_DAY)
# Longer expressions first, so "next Friday" is not also read as "Friday".
_RELATIVE = (_WITHIN, _FROM_NOW, _END_OF, _NEXT_WEEKDAY, _WEEKDAY_ALONE, _TOMORROW)


def find_dates(text: str, today: date | None = None) -> list[DateMention]:
    """Every date in `text`, in reading order; relative ones only when `today` is given."""
    found: list[DateMention] = []

    def free(start: int, end: int) -> bool:
        return all(end <= seen.start or start >= seen.end for seen in found)

    for pattern in _ABSOLUTE:
        for match in pattern.finditer(text):
            value = _absolute(match, pattern, today)
            if value is not None and free(*match.span()):
                found.append(DateMention(match.start(), match.end(), value, relative=False))
    if today is not None:
        for pattern in _RELATIVE:
            for match in pattern.finditer(text):
                if free(*match.span()):
                    value = _relative(match, pattern, today)
                    found.append(DateMention(match.start(), match.end(), value, relative=True))
    return sorted(found, key=lambda mention: mention.start)
