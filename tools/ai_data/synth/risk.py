"""Order risk cases labelled low/medium/high by a hidden credit policy, with noise.

The hidden policy (credit use after the order, payment behaviour, disputes, a short history,
segment, size) is what a credit controller weighs; the noise stands for what no feature shows.
The model never sees this function, only the labelled cases.
"""

import math
import random
from typing import Any

from systems.seed import CUSTOMERS
from tools.ai_data.synth.common import Split

SEGMENT_RISK = {"smb": 0.5, "mid-market": 0.2, "enterprise": 0.0, "strategic": -0.4}


def _hidden_risk(case: dict[str, Any], rng: random.Random) -> float:
    history = case["history"]
    use_after = (case["current_exposure"] + case["order_amount"]) / max(case["credit_limit"], 1.0)
    late_share = history["late_payments"] / (history["orders_count"] + 1)
    return float(
        -2.0
        + 3.5 * max(0.0, use_after - 0.7)
        + 2.5 * max(0.0, use_after - 1.0)
        + 5.0 * late_share
        + 0.7 * history["disputes"]
        + (0.9 if history["orders_count"] < 3 else 0.0)
        + SEGMENT_RISK[case["segment"]]
        + 0.35 * math.log10(max(case["order_amount"], 100) / 1000)
        + rng.gauss(0.0, 0.3)
    )


def risk_example(rng: random.Random, split: Split) -> dict[str, Any]:
    customer = rng.choice(CUSTOMERS)
    # Eval customers get their limits rescaled, so the model cannot key on known limits.
    limit = customer.credit_limit * (rng.uniform(0.6, 1.6) if split == "eval" else 1.0)
    orders = rng.choice([0, 1, 2, 4, 8, 15, 30, 60, 120])
    reliability = rng.betavariate(1.2, 8)  # share of invoices paid late, per customer
    case: dict[str, Any] = {
        "credit_limit": round(limit, 2),
        "current_exposure": round(limit * rng.uniform(0.0, 1.05), 2),
        "order_amount": round(math.exp(rng.uniform(math.log(200), math.log(limit * 0.8))), 2),
        "history": {
            "orders_count": orders,
            "late_payments": sum(rng.random() < reliability for _ in range(orders)),
            "disputes": min(orders, rng.choices([0, 1, 2, 3], weights=[75, 15, 7, 3])[0]),
        },
        "segment": customer.segment,
    }
    risk = _hidden_risk(case, rng)
    level = "low" if risk < -0.6 else "medium" if risk < 0.9 else "high"
    return {"request": case, "level": level}
