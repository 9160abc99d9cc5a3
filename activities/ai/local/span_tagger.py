"""Labels spans of a text (a number, a date, an identifier) by what surrounds them.

A span's features are the words before and after it on its line, the words printed above it
(a table header), its shape ('AAA-0000') and whatever the caller adds. A logistic regression over
those learns that '22.04.2026' after 'Due' is a due date and '20' before 'pcs' a quantity.
"""

import re
from collections.abc import Sequence

from sklearn.feature_extraction import DictVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

Features = dict[str, str | float]

_CONTEXT_WORD = re.compile(r"[a-z]+|\d+|[#%@=\u00d7]")
OTHER = "other"


def _context_words(text: str) -> list[str]:
    return ["0" if word.isdigit() else word for word in _CONTEXT_WORD.findall(text.lower())]


def shape(text: str) -> str:
    """'INV-2026-0042' -> 'A-0-0': letter and digit runs folded, punctuation kept."""
    folded = re.sub(r"[A-Za-z]+", "A", re.sub(r"\d+", "0", text))
    return folded[:12]


def _above(text: str, line_start: int, start: int, end: int) -> list[str]:
    """Words of the previous non-blank line printed over the same columns (a column header)."""
    cursor = line_start - 1  # the newline that ends the previous line
    while cursor > 0:
        previous_start = text.rfind("\n", 0, cursor) + 1
        previous = text[previous_start:cursor]
        if previous.strip():
            column = start - line_start
            return _context_words(previous[max(column - 2, 0) : column + end - start + 2])
        cursor = previous_start - 1
    return []


def span_context(text: str, start: int, end: int) -> Features:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    left = _context_words(text[line_start:start])[-3:]
    right = _context_words(text[end:line_end])[:2]
    features: Features = {"shape": shape(text[start:end])}
    for distance, word in enumerate(reversed(left), start=1):
        features[f"left{distance}"] = word
        features[f"left:{word}"] = 1.0
    if left:
        features["left1_prefix"] = left[-1][:3]
    else:
        features["line_start"] = 1.0
    for distance, word in enumerate(right, start=1):
        features[f"right{distance}"] = word
    for word in _above(text, line_start, start, end):
        features[f"above:{word}"] = 1.0
    features["prev_char"] = text[start - 1] if start > line_start else "^"
    features["next_char"] = text[end] if end < line_end else "$"
    return features


class SpanTagger:
    def __init__(self, features: Sequence[Features], labels: Sequence[str], c: float = 1.0) -> None:
        self._vectorizer = DictVectorizer()
        self._model = LogisticRegression(C=c, max_iter=2000)
        self._model.fit(self._vectorizer.fit_transform(list(features)), list(labels))
        self.labels: list[str] = [str(label) for label in self._model.classes_]

    def probabilities(self, features: Sequence[Features]) -> list[dict[str, float]]:
        if not features:
            return []
        rows = self._model.predict_proba(self._vectorizer.transform(list(features)))
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in rows]
