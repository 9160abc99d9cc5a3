"""Writes the local models' labelled data: `python -m tools.ai_data.generate` (or `make ai-data`).

Deterministic (one seed per task and split), so running it again reproduces the committed files.
A development tool, not part of the installed packages: it writes into the source tree's
activities/ai/data/, the files that ship with the runtime.
The catalogue and vendor list come from the sandbox's seed data, the same names the ERP holds.
"""

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from systems.seed import PRODUCTS, VENDORS
from tools.ai_data.synth.common import Split
from tools.ai_data.synth.invoices import invoice_example
from tools.ai_data.synth.messages import message_example
from tools.ai_data.synth.orders import order_example
from tools.ai_data.synth.risk import risk_example

DATA_DIR = Path(__file__).resolve().parents[2] / "activities" / "ai" / "data"

Generator = Callable[[random.Random, Split], dict[str, Any]]
TASKS: dict[str, tuple[Generator, int, int]] = {  # generator, train size, eval size
    "messages": (message_example, 700, 250),
    "orders": (order_example, 450, 160),
    "invoices": (invoice_example, 350, 120),
    "risk": (risk_example, 800, 250),
}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    for task, (generate, train_size, eval_size) in TASKS.items():
        sizes: dict[Split, int] = {"train": train_size, "eval": eval_size}
        for split, size in sizes.items():
            rng = random.Random(f"baton-{task}-{split}")
            write_jsonl(
                DATA_DIR / f"{task}_{split}.jsonl", [generate(rng, split) for _ in range(size)]
            )
    catalogue = [{"sku": product.sku, "name": product.name} for product in PRODUCTS]
    vendors = [{"vendor_id": vendor.vendor_id, "name": vendor.name} for vendor in VENDORS]
    (DATA_DIR / "catalogue.json").write_text(json.dumps(catalogue, indent=1) + "\n")
    (DATA_DIR / "vendors.json").write_text(json.dumps(vendors, indent=1) + "\n")


if __name__ == "__main__":
    main()
