"""Shared pieces of the generator: phrase pools split by train/eval, typos, people, dates.

Each pool holds separate phrasings for the training and the evaluation split, so the held-out
score measures how a model copes with wording it never saw, not how well it memorised templates.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Split = Literal["train", "eval"]


@dataclass(frozen=True)
class Pool:
    train: tuple[str, ...]
    eval: tuple[str, ...]

    def pick(self, rng: random.Random, split: Split) -> str:
        return rng.choice(self.train if split == "train" else self.eval)


def pool(train: Sequence[str], eval: Sequence[str]) -> Pool:
    return Pool(tuple(train), tuple(eval))


def shared(phrases: Sequence[str]) -> Pool:
    return Pool(tuple(phrases), tuple(phrases))


def paraphrases(groups: Sequence[Sequence[str]]) -> Pool:
    """Groups of sentences that say the same thing: the last of each group is held out for eval.

    So evaluation meets every topic, but never in a sentence the model was trained on.
    """
    return Pool(
        tuple(sentence for group in groups for sentence in group[:-1]),
        tuple(group[-1] for group in groups),
    )


def maybe(rng: random.Random, probability: float, text: str) -> str:
    return text if rng.random() < probability else ""


_KEYBOARD_NEIGHBOURS = {
    "a": "qs",
    "e": "wr",
    "i": "uo",
    "o": "ip",
    "n": "bm",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "l": "k",
    "c": "xv",
}


def typo(word: str, rng: random.Random) -> str:
    """One realistic slip: a swap, a dropped or doubled letter, or a neighbouring key."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    neighbours = _KEYBOARD_NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(neighbours) + word[i + 1 :] if neighbours else word


def add_typos(text: str, rng: random.Random, rate: float) -> str:
    """Typos in ordinary words only: numbers and codes stay intact, like a human would keep them."""
    words = text.split(" ")
    return " ".join(typo(word, rng) if rng.random() < rate else word for word in words)


FIRST_NAMES = pool(
    ["John", "Maria", "Ahmed", "Laura", "Kenji", "Sofia", "Peter", "Olivia", "Tom", "Priya"],
    ["Grace", "Lukas", "Fatima", "Diego", "Hannah", "Wei", "Marco", "Elena"],
)
LAST_NAMES = pool(
    ["Smith", "Garcia", "Khan", "Becker", "Tanaka", "Rossi", "Novak", "Brown", "Jensen"],
    ["Okafor", "Schmidt", "Dubois", "Silva", "Murphy", "Chen", "Kowalski", "Haddad"],
)
JOB_TITLES = pool(
    ["Purchasing Manager", "Buyer", "Procurement", "Operations Lead", "Plant Manager"],
    ["Supply Chain Coordinator", "Head of Maintenance", "Senior Buyer", "Logistics"],
)


def phone(rng: random.Random) -> str:
    return rng.choice(
        [
            f"+44 161 496 {rng.randint(1000, 9999)}",
            f"+1 (555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            f"0{rng.randint(20, 89)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            f"+49 30 {rng.randint(100000, 999999)}",
        ]
    )


def signature(rng: random.Random, split: Split, company: str) -> str:
    name = f"{FIRST_NAMES.pick(rng, split)} {LAST_NAMES.pick(rng, split)}"
    closing = SIGN_OFFS.pick(rng, split)
    lines = [closing, name]
    if rng.random() < 0.6:
        lines.append(JOB_TITLES.pick(rng, split))
    if rng.random() < 0.7:
        lines.append(company)
    if rng.random() < 0.5:
        lines.append(rng.choice(["Tel", "Phone", "T:", "Mob."]) + " " + phone(rng))
    if rng.random() < 0.15:
        lines.append(FOOTERS.pick(rng, split))
    return "\n".join(lines)


SIGN_OFFS = pool(
    ["Best regards,", "Thanks,", "Kind regards", "Regards,", "Cheers,", "Thank you!"],
    ["Many thanks,", "Best,", "Warm regards,", "Thx", "Sincerely,", "All the best,"],
)
GREETINGS = pool(
    ["Hi,", "Hello,", "Dear Sales Team,", "Good morning,", "Hi team,", "Dear Sir or Madam,"],
    ["Hey there,", "Hello all,", "Good afternoon,", "Dear colleagues,", "Hi folks,", "Greetings,"],
)
FOOTERS = pool(
    [
        "Sent from my iPhone",
        "This e-mail and any attachments are confidential.",
        "Please consider the environment before printing this email.",
    ],
    [
        "Sent from Outlook for Android",
        "CONFIDENTIALITY NOTICE: this message is intended only for the addressee.",
        "Get Outlook for iOS",
    ],
)

# -- dates ------------------------------------------------------------------------------------

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SMALL_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def absolute_date(day: date, rng: random.Random, split: Split, with_year: bool = True) -> str:
    """`day` written as people write it; without a year only where the reader can infer it."""
    month = MONTHS[day.month - 1]
    year_styles = {
        "train": [
            day.isoformat(),
            f"{day.day} {month} {day.year}",
            f"{day.day:02d}.{day.month:02d}.{day.year}",
            f"{month} {ordinal(day.day)}, {day.year}",
            f"{day.day} {month[:3]} {day.year}",
        ],
        "eval": [
            day.isoformat(),
            f"{day.day:02d}/{day.month:02d}/{day.year}",
            f"{ordinal(day.day)} of {month} {day.year}",
            f"{month[:3]}. {day.day}, {day.year}",
            f"{day.day}-{month[:3]}-{day.year}",
        ],
    }
    no_year_styles = {
        "train": [f"{day.day} {month}", f"{month} {ordinal(day.day)}", f"{month[:3]} {day.day}"],
        "eval": [f"{ordinal(day.day)} {month}", f"{month} {day.day}", f"{day.day} {month[:3]}"],
    }
    return rng.choice(year_styles[split] if with_year else no_year_styles[split])


def _friday_of_week(day: date, weeks_ahead: int) -> date:
    return day - timedelta(days=day.weekday()) + timedelta(days=7 * weeks_ahead + 4)


def _month_end(day: date) -> date:
    first_of_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def relative_date(today: date, rng: random.Random) -> tuple[str, date]:
    """A relative expression and the day it means (next X = X in the next calendar week)."""
    kind = rng.randrange(7)
    if kind == 0:
        n = rng.randint(2, 6)
        count = SMALL_NUMBERS[n] if rng.random() < 0.5 else str(n)
        lead = rng.choice(["within", "in", "within the next", "inside"])
        return f"{lead} {count} weeks", today + timedelta(weeks=n)
    if kind == 1:
        n = rng.choice([3, 5, 7, 10, 14, 21])
        phrase = rng.choice([f"within {n} days", f"{n} days from today", f"in {n} days"])
        return phrase, today + timedelta(days=n)
    if kind == 2:
        weekday = rng.randrange(5)
        start_of_next = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return f"next {WEEKDAYS[weekday]}", start_of_next + timedelta(days=weekday)
    if kind == 3:
        weekday = rng.randrange(5)
        ahead = (weekday - today.weekday()) % 7 or 7
        lead = rng.choice(["this ", "", "this coming ", "on "])
        return f"{lead}{WEEKDAYS[weekday]}", today + timedelta(days=ahead)
    if kind == 4:
        phrase = rng.choice(["end of the month", "end of month", "the end of this month"])
        return phrase, _month_end(today)
    if kind == 5:
        return rng.choice(["end of next week", "the end of next week"]), _friday_of_week(today, 1)
    return "tomorrow", today + timedelta(days=1)


def random_day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days))


def plural(name: str) -> str:
    """'Ball Valve 1 inch' -> 'Ball Valves 1 inch': the head noun is the last plain word."""
    words = name.split(" ")
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        if word.isalpha() and not word.isupper() and word.lower() != "inch":
            words[i] = word[:-1] + "ies" if word.endswith("y") else word + "s"
            break
    return " ".join(words)
