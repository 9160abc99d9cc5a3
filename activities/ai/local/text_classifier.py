"""A text classifier: word and character n-gram TF-IDF into a logistic regression.

Character n-grams carry it across typos and unseen inflections; figures are folded to 0, so it
learns the shape of '20 x' rather than particular numbers.
"""

import re
from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline, make_pipeline, make_union  # type: ignore[import-untyped]

# Clauses and invoice lines are short: longer character n-grams cost time and add nothing there.
SHORT_TEXT_NGRAMS = (2, 4)


def fold(text: str) -> str:
    return re.sub(r"\d", "0", text.lower())


class TextClassifier:
    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        char_ngrams: tuple[int, int] = (2, 5),
        c: float = 10.0,
    ) -> None:
        words = TfidfVectorizer(preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True)
        chars = TfidfVectorizer(
            preprocessor=fold,
            analyzer="char_wb",
            ngram_range=char_ngrams,
            sublinear_tf=True,
            min_df=2,
        )
        self._pipeline: Pipeline = make_pipeline(
            make_union(words, chars),
            LogisticRegression(C=c, solver="newton-cg", tol=1e-4, max_iter=500),
        )
        self._pipeline.fit(list(texts), list(labels))
        self.labels: list[str] = [str(label) for label in self._pipeline.classes_]

    def probabilities(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []  # scikit-learn refuses an empty batch
        rows = self._pipeline.predict_proba(list(texts))
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in rows]

    def best(self, text: str) -> tuple[str, float]:
        """The most likely label and its probability."""
        scores = self.probabilities([text])[0]
        label = max(scores, key=scores.__getitem__)
        return label, scores[label]
