"""Finds numbers in text: digits in English or European notation, and quantities in words."""

import re
from dataclasses import dataclass
from typing import Any

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORD_VALUES: dict[str, int] = {
    **{word: value for value, word in enumerate(_UNITS)},
    **{word: 20 + 10 * index for index, word in enumerate(_TENS)},
}
_PHRASES = {"half a dozen": 6, "a couple of": 2, "a pair of": 2}
_SCALES = {"hundred": 100, "thousand": 1000, "dozen": 12}

# Words that make a figure a count: a quantity's label ("qty 3", "Menge: 40") and a count's
# unit ("3 pcs", "120 Stk."), in the languages orders arrive in.
QUANTITY_LABELS = (
    r"qty|quantity|quantities|menge|anzahl|aantal|qt[e\u00e9]|quantit[e\u00e9]|cantidad|cant"
    r"|quantit\u00e0"
)
COUNT_UNITS = r"pcs|pc|pieces|units?|stk|st(?:\u00fc|ue)ck|ea|nos"

_DIGITS = re.compile(r"(?<![\d.,])\d(?:[\d.,]*\d)?")
# A number in words: "twenty", "a dozen", "two hundred", "three hundred and fifty",
# "twenty-five", "two thousand five hundred". "a" counts only before a scale ("a hundred").
# Only the combinations English has: "twenty-five", "two hundred", "three hundred and fifty",
# "fifteen hundred", "two thousand five hundred", "two dozen"; never two units in a row ("one
# two-pack" is 1 and 2). "a" counts only before a scale ("a hundred").
_SMALL = (
    rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS[1:10])}))?|(?:{'|'.join(_UNITS[1:])}))"
)
_JOIN = r"(?: and |[ -])"
_HUNDREDS = rf"(?:(?:a|{_SMALL})[ -]hundred(?:{_JOIN}{_SMALL})?)"
_WORDS = re.compile(
    r"\b(?:(?P<phrase>half a dozen|a couple of|a pair of)"
    rf"|(?P<words>(?:a|{_HUNDREDS}|{_SMALL})[ -]thousand(?:{_JOIN}(?:{_HUNDREDS}|{_SMALL}))?"
    rf"|{_HUNDREDS}|(?:a|{_SMALL})[ -]dozen|{_SMALL}|zero))\b",
    re.I,
)


# Number words of the other languages orders arrive in (German, Dutch, French, Spanish,
# Italian): units and tens, hundreds ("dreihundert", "drie honderd", "trois cents",
# "trescientos", "duecento") and dozens ("una docena", "zwei Dutzend", "una dozzina"). Left out:
# words English or German use otherwise ("once", "sept", "mil", a lone "cent", "otto", "due",
# "sei"), and the articles ("ein", "une", "een", "uno") except before a dozen.
_FOREIGN_VALUES = {
    **dict.fromkeys(["zwei", "twee", "deux", "dos"], 2),
    **dict.fromkeys(["drei", "drie", "trois", "tres", "tre"], 3),
    **dict.fromkeys(["vier", "quatre", "cuatro", "quattro"], 4),
    **dict.fromkeys(["fünf", "vijf", "cinq", "cinco", "cinque"], 5),
    **dict.fromkeys(["sechs", "zes", "seis"], 6),
    **dict.fromkeys(["sieben", "zeven", "siete", "sette"], 7),
    **dict.fromkeys(["acht", "huit", "ocho"], 8),
    **dict.fromkeys(["neun", "negen", "neuf", "nueve", "nove"], 9),
    **dict.fromkeys(["zehn", "tien", "dix", "diez", "dieci"], 10),
    **dict.fromkeys(["elf", "onze", "undici"], 11),
    **dict.fromkeys(["zwölf", "twaalf", "douze", "doce", "dodici"], 12),
    **dict.fromkeys(["dreizehn", "dertien", "treize", "trece", "tredici"], 13),
    **dict.fromkeys(["vierzehn", "veertien", "quatorze", "catorce", "quattordici"], 14),
    **dict.fromkeys(["fünfzehn", "vijftien", "quinze", "quince", "quindici"], 15),
    **dict.fromkeys(["sechzehn", "zestien", "seize", "dieciséis", "sedici"], 16),
    **dict.fromkeys(["siebzehn", "zeventien", "dix-sept", "diecisiete", "diciassette"], 17),
    **dict.fromkeys(["achtzehn", "achttien", "dix-huit", "dieciocho", "diciotto"], 18),
    **dict.fromkeys(["neunzehn", "negentien", "dix-neuf", "diecinueve", "diciannove"], 19),
    **dict.fromkeys(["zwanzig", "twintig", "vingt", "veinte", "venti"], 20),
    **dict.fromkeys(["dreißig", "dertig", "trente", "treinta", "trenta"], 30),
    **dict.fromkeys(["vierzig", "veertig", "quarante", "cuarenta", "quaranta"], 40),
    **dict.fromkeys(["fünfzig", "vijftig", "cinquante", "cincuenta", "cinquanta"], 50),
    **dict.fromkeys(["sechzig", "zestig", "soixante", "sesenta", "sessanta"], 60),
    **dict.fromkeys(["siebzig", "zeventig", "setenta", "settanta"], 70),
    **dict.fromkeys(["achtzig", "tachtig", "ochenta", "ottanta"], 80),
    **dict.fromkeys(["neunzig", "negentig", "noventa", "novanta"], 90),
}
_FOREIGN_HUNDREDS = {
    **dict.fromkeys(["hundert", "honderd", "cien", "ciento", "cent", "cents"], 100),
    "doscientos": 200,
    "trescientos": 300,
    "cuatrocientos": 400,
    "quinientos": 500,
    "cento": 100,
    "duecento": 200,
    "trecento": 300,
    "quattrocento": 400,
    "cinquecento": 500,
}
_ALONE_IS_NOT_A_HUNDRED = {"cent", "cents"}  # "50 cents"
_FOREIGN_DOZENS = "dutzend|dozijn|douzaines|douzaine|docenas|docena|dozzina|dozzine"


def _alternatives(words: dict[str, int]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


_FOREIGN_WORD = _alternatives(_FOREIGN_VALUES)
_FOREIGN = re.compile(
    rf"(?<![\w-])(?:(?:(?P<times>{_FOREIGN_WORD})[ -]?)?"
    rf"(?P<hundreds>{_alternatives(_FOREIGN_HUNDREDS)})(?:[ -](?P<plus>{_FOREIGN_WORD}))?"
    rf"|(?:(?P<dozens>{_FOREIGN_WORD}|eine?|een|une?|una?) )?(?:{_FOREIGN_DOZENS})"
    rf"|(?P<word>{_FOREIGN_WORD}))(?![\w-])",
    re.I,
)


def _foreign_value(match: re.Match[str]) -> float | None:
    def value(word: str | None, default: int) -> int:
        return _FOREIGN_VALUES.get(word.lower(), 1) if word else default

    if match["hundreds"]:
        hundreds = match["hundreds"].lower()
        if hundreds in _ALONE_IS_NOT_A_HUNDRED and not match["times"]:
            return None
        base = _FOREIGN_HUNDREDS[hundreds] * value(match["times"], 1)
        return float(base + value(match["plus"], 0))
    if match["word"]:
        return float(value(match["word"], 0))
    return float(12 * value(match["dozens"], 1))


@dataclass(frozen=True)
class NumberMention:
    start: int
    end: int
    value: float
    decimals: int  # digits after the decimal separator; 2 for money
    in_words: bool = False


# Every number word, lower case: none of them names a product ("trois cents" is no
# centrifugal pump).
NUMBER_WORDS = frozenset(
    [*WORD_VALUES, *_SCALES, *_FOREIGN_VALUES, *_FOREIGN_HUNDREDS, *_FOREIGN_DOZENS.split("|")]
)


def parse_number(text: str) -> tuple[float, int] | None:
    """'1,234.56' and '1.234,56' -> (1234.56, 2); '1,200' -> (1200, 0); nonsense -> None.

    A separator that appears once and is followed by exactly three digits groups thousands;
    otherwise the last separator is the decimal one.
    """
    separators = [char for char in text if char in ".,"]
    if not separators:
        return float(text), 0
    last = separators[-1]
    head, _, tail = text.rpartition(last)
    thousands_only = len(set(separators)) == 1 and len(tail) == 3
    if thousands_only:
        head, tail = text, ""
    groups = re.split(r"[.,]", head)
    if any(len(group) != 3 for group in groups[1:]) or not groups[0]:
        return None  # e.g. a dotted date such as 10.04.2026
    digits = "".join(groups)
    return (float(f"{digits}.{tail}") if tail else float(digits)), len(tail)


def find_numbers(text: str, words: bool = False) -> list[NumberMention]:
    """Numbers written in digits, and with `words` also in words ('two dozen'), in order."""
    found = []
    for match in _DIGITS.finditer(text):
        parsed = parse_number(match[0])
        if parsed is not None:
            found.append(NumberMention(match.start(), match.end(), parsed[0], parsed[1]))
    if words:
        for match in _WORDS.finditer(text):
            found.append(NumberMention(match.start(), match.end(), _word_value(match), 0, True))
        for match in _FOREIGN.finditer(text):
            value = _foreign_value(match)
            taken = any(n.start < match.end() and match.start() < n.end for n in found)
            if value is not None and not taken:
                found.append(NumberMention(match.start(), match.end(), value, 0, True))
    return sorted(found, key=lambda mention: mention.start)


def _word_value(match: re.Match[str]) -> float:
    if match["phrase"]:
        return float(_PHRASES[match["phrase"].lower()])
    total, current = 0, 0
    for word in re.split(r"[ -]+", match["words"].lower()):
        if word == "a":
            current = 1
        elif word in ("hundred", "dozen"):
            current = max(current, 1) * _SCALES[word]
        elif word == "thousand":
            total, current = total + max(current, 1) * 1000, 0
        elif word != "and":
            current += WORD_VALUES[word]
    return float(total + current)


def same_value(got: Any, wanted: Any) -> bool:
    """Equal, numbers to the cent (an amount read as 71.0 is the 71 expected)."""
    if isinstance(got, int | float) and isinstance(wanted, int | float):
        return abs(got - wanted) < 0.005
    return bool(got == wanted)
