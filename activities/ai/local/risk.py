"""The risk of an order: a logistic regression over credit, payment and order features.

The score is the expected risk (P(medium) / 2 + P(high)); the level the most likely class; the
confidence that class's probability. Reasons state the facts that pushed this request hardest
towards its level (towards 'high', or for a low risk towards 'low'), read from the model's weights.
"""

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from activities.ai.local.examples import RiskExample
from workflows.contracts.ai import RiskLevel, ScoreRiskRequest, ScoreRiskResult

SEGMENTS = ("smb", "mid-market", "enterprise", "strategic")
MIN_REASON_WEIGHT = 0.25  # a smaller push, in log-odds, is not worth a sentence


class Feature(NamedTuple):
    name: str
    value: Callable[[ScoreRiskRequest], float]
    reason: Callable[[ScoreRiskRequest], str]


def _use_after(r: ScoreRiskRequest) -> float:
    return min((r.current_exposure + r.order_amount) / max(r.credit_limit, 1.0), 5.0)


def _late_share(r: ScoreRiskRequest) -> float:
    return r.history.late_payments / (r.history.orders_count + 1)


def _in_segment(segment: str) -> Callable[[ScoreRiskRequest], float]:
    return lambda r: float(r.segment.lower() == segment)


def _segment_reason(r: ScoreRiskRequest) -> str:
    return f"segment {r.segment}"


FEATURES: tuple[Feature, ...] = (
    Feature(
        "credit use after order",
        _use_after,
        lambda r: f"credit use after this order: {_use_after(r):.0%} of the limit",
    ),
    Feature(
        "over limit",
        lambda r: max(0.0, _use_after(r) - 1.0),
        lambda r: "over the credit limit" if _use_after(r) > 1.0 else "within the credit limit",
    ),
    Feature(
        "order size",
        lambda r: math.log10(r.order_amount + 1.0),
        lambda r: f"order amount {r.order_amount:,.0f}",
    ),
    Feature(
        "late share",
        _late_share,
        lambda r: f"{r.history.late_payments} late payments in {r.history.orders_count} orders",
    ),
    Feature(
        "disputes",
        lambda r: float(r.history.disputes),
        lambda r: f"disputes on record: {r.history.disputes}",
    ),
    Feature(
        "short history",
        lambda r: float(r.history.orders_count < 3),
        lambda r: f"{r.history.orders_count} orders so far",
    ),
    *(Feature(f"segment {segment}", _in_segment(segment), _segment_reason) for segment in SEGMENTS),
)


def _matrix(requests: Sequence[ScoreRiskRequest]) -> np.ndarray:
    return np.array([[feature.value(r) for feature in FEATURES] for r in requests])


class RiskScorer:
    def __init__(self, examples: Sequence[RiskExample]) -> None:
        self._scaler = StandardScaler()
        self._model = LogisticRegression(C=1.0, max_iter=1000)
        scaled = self._scaler.fit_transform(_matrix([example.request for example in examples]))
        self._model.fit(scaled, [example.level.value for example in examples])
        self._labels: list[str] = [str(label) for label in self._model.classes_]

    def score(self, request: ScoreRiskRequest) -> ScoreRiskResult:
        scaled = self._scaler.transform(_matrix([request]))
        odds = dict(
            zip(self._labels, map(float, self._model.predict_proba(scaled)[0]), strict=True)
        )
        level = max(odds, key=odds.__getitem__)
        # How far each feature moved this request towards 'high' rather than 'low'.
        high, low = self._labels.index(RiskLevel.HIGH), self._labels.index(RiskLevel.LOW)
        pushes = (self._model.coef_[high] - self._model.coef_[low]) * scaled[0]
        if level == RiskLevel.LOW:
            pushes = -pushes
        ranked = sorted(zip(pushes, FEATURES, strict=True), key=lambda pair: -pair[0])
        reasons = [
            feature.reason(request) for push, feature in ranked[:3] if push > MIN_REASON_WEIGHT
        ]
        return ScoreRiskResult(
            score=min(1.0, odds[RiskLevel.MEDIUM] / 2 + odds[RiskLevel.HIGH]),
            level=RiskLevel(level),
            reasons=reasons or ["no risk factor stands out"],
            confidence=odds[level],
        )
