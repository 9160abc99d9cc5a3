"""Intent and urgency of a customer message: two text classifiers over the same features."""

from collections.abc import Sequence

from activities.ai.local.examples import MessageExample
from activities.ai.local.text_classifier import TextClassifier
from workflows.contracts.ai import ClassifyMessageResult, Intent, Urgency


class MessageClassifier:
    def __init__(self, examples: Sequence[MessageExample]) -> None:
        texts = [example.text for example in examples]
        self._intent = TextClassifier(texts, [example.intent.value for example in examples])
        self._urgency = TextClassifier(texts, [example.urgency.value for example in examples])

    def classify(self, text: str) -> ClassifyMessageResult:
        intent, intent_probability = self._intent.best(text)
        urgency, urgency_probability = self._urgency.best(text)
        return ClassifyMessageResult(
            intent=Intent(intent),
            confidence=intent_probability,
            urgency=Urgency(urgency),
            urgency_confidence=urgency_probability,
        )
