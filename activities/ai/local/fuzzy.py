"""Resolves what a person wrote ('temp sensors', 'WID100', 'Nortwind Components Ltd') to an entry
of a list given at run time (the ERP's catalogue, the vendor list), with a score for how well.

Codes (SKUs) match exactly once separators are ignored. Names match word by word: each word of an
entry's name finds its best counterpart in the text (plural, prefix, typo tolerant), and words
that few entries share weigh more, so 'humidity' decides between the three sensors.
"""

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from activities.ai.local.numbers import NUMBER_WORDS

# A word, or a figure with its separators and unit: "1,536.00" is one token, not a "1".
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*[A-Za-z]*|[A-Za-z0-9]+")
_CODE = re.compile(r"\b[A-Za-z]{2,6}[-_/ ]?\d{2,8}\b")
_FIGURE = re.compile(r"^(\d+)[a-z]{0,2}$")  # a figure with an optional unit: 10, 10m, 400w
_SPEC = re.compile(r"^(?:\d+[a-z]{0,2}|inch)$")  # a size or rating in a name: 1 inch, 400w
MIN_WORD_SIMILARITY = 0.75


@dataclass(frozen=True)
class Match:
    key: str
    name: str
    score: float  # 0..1, how much of the entry's name the text covers (1 for an exact code)
    margin: float  # lead over the next-best entry
    code_span: tuple[int, int] | None = None  # where the code was found, for a code match

    @property
    def quality(self) -> float:
        """The score, discounted when another entry came close (an ambiguous reference)."""
        return self.score * min(1.0, 0.5 + 2.5 * self.margin)

    def without_code(self, text: str) -> str:
        """`text` (the one matched) with the code it was matched by taken out, if any."""
        if self.code_span is None:
            return text
        return text[: self.code_span[0]] + " " + text[self.code_span[1] :]


def _known(word: str, known: frozenset[str]) -> bool:
    return word in known or not word.isalpha() or len(word) < 3


def _adjacent(text: str, before: re.Match[str], after: re.Match[str]) -> bool:
    """Two tokens with only spaces or a hyphen between them: one phrase."""
    return text[before.end() : after.start()].strip(" -") == ""


def normalize_code(code: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", code.upper())


def codes_written(text: str) -> set[str]:
    """Everything in `text` written like a code ('WID-300', 'wid300'), normalized."""
    return {normalize_code(found[0]) for found in _CODE.finditer(text)}


def stem(word: str) -> str:
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    return [stem(token) for token in _TOKEN.findall(text)]


@lru_cache(maxsize=65536)
def word_similarity(name_word: str, written: str) -> float:
    """How well a word someone wrote stands for a word of a name (both stemmed), 0..1."""
    if name_word == written:
        return 1.0
    if not (name_word.isalpha() and written.isalpha()):
        # 10m vs 10: the same figure without its unit; other figures never approximate
        figure, written_figure = _FIGURE.match(name_word), _FIGURE.match(written)
        same = figure and written_figure and figure[1] == written_figure[1]
        return 0.8 if same else 0.0
    if len(written) >= 3 and name_word.startswith(written):
        return 0.9  # an abbreviation: temp -> temperature
    if len(name_word) >= 4 and written.startswith(name_word):
        return 0.85  # run together: heavyduty -> heavy
    if min(len(name_word), len(written)) < 4:
        return 0.0  # a typo in a short word is another word: "hi" is not "HMI"
    matcher = SequenceMatcher(None, name_word, written)
    if (
        matcher.real_quick_ratio() < MIN_WORD_SIMILARITY
        or matcher.quick_ratio() < MIN_WORD_SIMILARITY
    ):
        return 0.0  # cheap upper bounds first
    ratio = matcher.ratio()
    return ratio if ratio >= MIN_WORD_SIMILARITY else 0.0


class NameMatcher:
    """Matches text against entries (key, name): the catalogue's SKUs or the vendors' ids. A
    key may have several names (what customers were seen to call a product); the first is its
    own."""

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        self._entries = list(entries)
        self._names: dict[str, str] = {}
        for key, name in self._entries:
            self._names.setdefault(key, name)
        self._codes = {normalize_code(key): key for key in self._names}
        self._words = [sorted(set(words(name))) for _, name in self._entries]
        self._words_of: dict[str, set[str]] = {}  # a key's own name's words (not its aliases')
        for (key, _), words_of in zip(self._entries, self._words, strict=True):
            self._words_of.setdefault(key, set(words_of))
        frequency = Counter(word for name_words in self._words for word in name_words)
        count = len(self._entries)
        self._weight = {word: math.log(1 + count / seen) for word, seen in frequency.items()}
        self._similar: dict[str, dict[str, float]] = {}  # written word -> name words it resembles

    def find_code(self, text: str) -> Match | None:
        for found in _CODE.finditer(text):
            key = self._codes.get(normalize_code(found[0]))
            if key is not None:
                return Match(key, self._names[key], 1.0, 1.0, found.span())
        return None

    def _resembled(self, written: str) -> dict[str, float]:
        if written in NUMBER_WORDS:
            return {}  # a count, never part of a product's name
        if written not in self._similar:
            similarities = ((word, word_similarity(word, written)) for word in self._weight)
            self._similar[written] = {word: value for word, value in similarities if value > 0}
        return self._similar[written]

    def name_scores(self, text: str) -> list[tuple[float, str]]:
        """Each key's score for `text` (its best name's), best first. A name's score is the
        weighted share of its words the text has; a figure of the name (its size or rating:
        '1 inch', '400W') counts only when written, as people leave it out when nothing else
        has the rest of the name."""
        best: dict[str, float] = {}
        for written in set(words(text)):
            for word, similarity in self._resembled(written).items():
                best[word] = max(best.get(word, 0.0), similarity)
        scores: dict[str, float] = {}
        for (key, _), name_words in zip(self._entries, self._words, strict=True):
            counted = [w for w in name_words if best.get(w) or not _SPEC.match(w)]
            total = sum(self._weight[w] for w in counted)
            if total:
                score = sum(self._weight[w] * best.get(w, 0.0) for w in counted) / total
                scores[key] = max(scores.get(key, 0.0), score)
        return sorted(((score, key) for key, score in scores.items()), reverse=True)

    def singled_out(self, text: str, match: Match, known: frozenset[str]) -> bool:
        """Whether `text` names `match`'s entry unmistakably though not by its whole name
        ("stepper motors" for the Stepper Motor NEMA 23): the words it has of that name belong
        to no other entry together, it writes no word of another entry's name that this one
        lacks, and the words right before, inside and right after the mention are all `known`
        (seen in ordinary order messages): "stainless bolts", "Cat6 patch cables", "first aid
        kits" may name a product the catalogue does not have."""
        if match.code_span is not None:
            return True
        own = self._words_of[match.key]
        tokens = list(_TOKEN.finditer(text))
        mine: list[int] = []  # the tokens that write a word of the entry's name
        named: set[str] = set()  # the words of its name they write
        for index, token in enumerate(tokens):
            written = stem(token[0])
            close = {word for word, alike in self._resembled(written).items() if alike >= 0.85}
            if close & own:
                mine.append(index)
                named |= {word for word in close & own if word.isalpha()}
            elif close and not written.isdigit():  # a bare figure may be the quantity
                return False  # a word of another product's name, or a figure with its unit
        if not named or any(named <= set(other) for key, other in self._others(match.key)):
            return False
        first, last = mine[0], mine[-1]
        if first > 0 and _adjacent(text, tokens[first - 1], tokens[first]):
            first -= 1  # the word right before: "first aid kits"
        if last + 1 < len(tokens) and _adjacent(text, tokens[last], tokens[last + 1]):
            last += 1  # the word right after: the head noun
        return all(i in mine or _known(stem(tokens[i][0]), known) for i in range(first, last + 1))

    def _others(self, key: str) -> Iterator[tuple[str, list[str]]]:
        """The names' words of every entry but `key`."""
        return (
            (other, words_of)
            for (other, _), words_of in zip(self._entries, self._words, strict=True)
            if other != key
        )

    def another(self, text: str, match: Match) -> Match | None:
        """The entry besides `match` that `text` names best once `match`'s code and the words
        of its name are taken out ("6 pompe (PMP-420) e dieci filtri olio idraulico" names a
        filter too): a second product in what was read as one line."""
        own = self._words_of[match.key]
        rest = " ".join(
            written
            for written in (stem(token) for token in _TOKEN.findall(match.without_code(text)))
            if not any(word_similarity(word, written) for word in own)
        )
        others = [(score, key) for score, key in self.name_scores(rest) if key != match.key]
        if not others:
            return None
        (score, key), runner_up = others[0], others[1][0] if len(others) > 1 else 0.0
        return Match(key, self._names[key], score, score - runner_up)

    def best(self, text: str) -> Match | None:
        """The entry `text` names, by code first, else by name; None for an empty list."""
        by_code = self.find_code(text)
        if by_code is not None:
            return by_code
        scores = self.name_scores(text)
        if not scores:
            return None
        (score, key), runner_up = scores[0], scores[1][0] if len(scores) > 1 else 0.0
        return Match(key, self._names[key], score, score - runner_up)
