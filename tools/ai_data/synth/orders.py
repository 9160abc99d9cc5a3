"""Order requests in free text, labelled with their lines (SKU, quantity) and requested date."""

import random
import re
from datetime import date, timedelta
from typing import Any

from systems.seed import CUSTOMERS, PRODUCTS, Product
from tools.ai_data.synth.common import (
    GREETINGS,
    Split,
    absolute_date,
    add_typos,
    paraphrases,
    plural,
    random_day,
    relative_date,
    shared,
    signature,
    typo,
)

# Ways people name a product without its catalogue name: first for training, second for eval.
ALIASES: dict[str, tuple[str, str]] = {
    "WID-100": ("standard widgets", "widgets standard"),
    "WID-200": ("heavy duty widgets", "heavyduty widget"),
    "WID-300": ("stainless widgets", "stainless steel widgets"),
    "GAD-110": ("smart gadgets", "gadgets smart"),
    "GAD-120": ("mount kits", "gadget mounting kits"),
    "SEN-210": ("temp sensors", "temperature sensors"),
    "SEN-220": ("pressure sensors", "pressure sensor units"),
    "SEN-230": ("humidity sensors", "humidity sensor"),
    "VAL-310": ("1 inch ball valves", "ball valves 1in"),
    "VAL-320": ("4 inch butterfly valves", "butterfly valves"),
    "PMP-410": ("centrifugal pumps", "centrifugal pump units"),
    "PMP-420": ("diaphragm pumps", "diaphram pumps"),
    "MOT-510": ("400W servo motors", "servos 400W"),
    "MOT-520": ("NEMA 23 steppers", "stepper motors"),
    "CBL-610": ("10m shielded cables", "shielded cable 10 m"),
    "CBL-620": ("cat6 cables", "5m ethernet cables"),
    "CTL-710": ("PLC controllers", "PLCs"),
    "CTL-720": ("HMI panels", "touch panels"),
    "BRG-810": ("6204 bearings", "ball bearings 6204"),
    "BRG-820": ("roller bearings", "22210 roller bearings"),
    "FLT-910": ("air filters", "air filter cartridges"),
    "FLT-920": ("hydraulic filters", "oil filters hydraulic"),
    "PAN-930": ("400W solar panels", "solar panels"),
    "BAT-940": ("48V battery packs", "lithium batteries"),
}

NUMBER_WORDS = {
    1: "one",
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    8: "eight",
    10: "ten",
    12: "a dozen",
    15: "fifteen",
    20: "twenty",
    24: "two dozen",
    50: "fifty",
    100: "a hundred",
}

# Grouped by how the quantity is marked; eval meets each marking in a layout of its own.
LIST_LINES = paraphrases(
    [
        ["{qty} x {item}", "{qty}x {item}", "{qty} \N{MULTIPLICATION SIGN} {item}"],
        ["{item} x {qty}", "{item} x{qty}", "{item} (x{qty})"],
        ["{item}: {qty} pcs", "{item} - {qty} pcs", "{item} — {qty} units"],
        ["{qty} units of {item}", "{qty} pcs of {item}", "{qty} pieces of {item}"],
        ["{item} - {qty}", "{item}: {qty}", "{item}   {qty}"],
        ["Qty {qty} {item}", "{item} qty {qty}", "{item} / quantity {qty}"],
        ["{qty} pcs {item}", "{qty} units {item}", "{qty} ea {item}"],
        ["{qty} nos {item}", "{qty} no. {item}", "{qty} nos. {item}"],
        ["{qty} off {item}", "{qty} OFF {item}", "{qty}-off {item}"],
        [
            "{item} \N{MULTIPLICATION SIGN} {qty}",
            "{item} X {qty}",
            "{item} \N{MULTIPLICATION SIGN}{qty}",
        ],
    ]
)
BULLETS = shared(["- ", "* ", "", "{n}. ", "• ", "{letter}) ", "> "])
INLINE_ITEMS = shared(
    ["{qty} {item}", "{qty} x {item}", "{qty} units of {item}", "{qty} pcs {item}"]
)
INLINE_LEADS = paraphrases(
    [
        ["Please send us", "Please send", "Send us"],
        ["We would like to order", "We'd like to order", "We'd like"],
        ["Could you supply", "Can you supply", "Kindly supply"],
        ["We need", "We require", "We'll need"],
        ["Please book", "Please reserve", "Book us"],
        ["Please deliver", "Kindly deliver", "Deliver"],
        ["Please ship", "Ship us", "Can you ship"],
        ["Requesting", "We request", "Request for"],
        ["Put us down for", "Add to our order:", "Count us in for"],
    ]
)
INTROS = paraphrases(
    [
        ["We'd like to place the following order:", "Please book this order:", "Our order:"],
        ["Please find our order below.", "Our order is below.", "Here is what we need this time:"],
        ["Order request:", "Purchase request:", "Our requirements:"],
        [
            "Please supply the following items:",
            "Please send these items:",
            "Kindly process this order:",
        ],
    ]
)
ABSOLUTE_DATE_SENTENCES = paraphrases(
    [
        ["We need them by {d}.", "We need everything by {d}.", "Needed by {d}."],
        ["Delivery required by {d}.", "Required delivery: {d}", "Delivery needed by {d}."],
        [
            "Please deliver before {d}.",
            "Deliver no later than {d} please.",
            "It has to be on site no later than {d}.",
        ],
        ["Requested delivery date: {d}", "Requested date: {d}", "Target date {d}."],
        ["Deadline is {d}.", "The deadline is {d}.", "Our deadline: {d}"],
        ["Must arrive by {d}.", "Should arrive by {d}.", "ETA needed: {d}"],
    ]
)
RELATIVE_DATE_SENTENCES = paraphrases(
    [
        ["We need them {rel}.", "We need it all {rel}.", "We'd need it all {rel}."],
        ["Please deliver {rel}.", "Delivery {rel} please.", "Goods required {rel}."],
        ["Can you ship {rel}?", "Could you ship {rel}?", "Could it arrive {rel}?"],
    ]
)
PAST_DATE_DISTRACTORS = paraphrases(
    [
        ["Our last delivery on {d} was fine.", "The delivery of {d} was fine.", "We spoke on {d}."],
        [
            "Regarding your quote from {d}:",
            "About your quote of {d}:",
            "Your offer dated {d} is accepted.",
        ],
        ["Our payment of {d} should have arrived.", "We paid on {d}.", "Invoice of {d} is paid."],
    ]
)
FUTURE_DATE_DISTRACTORS = paraphrases(
    [
        [
            "Note: we are closed on {d}.",
            "Our site is closed on {d}.",
            "Heads up: our site is closed on {d}.",
        ],
        [
            "Our stocktake is on {d}, no deliveries that day.",
            "No deliveries on {d} please.",
            "We have an audit on {d}.",
        ],
        [
            "Our plant shutdown starts {d}.",
            "The plant shuts down on {d}.",
            "Maintenance shutdown from {d}.",
        ],
    ]
)
# Sentences with products or figures that are no order lines: the hard cases for the classifier.
PRODUCT_DISTRACTORS = paraphrases(
    [
        [
            "Last time the {qty} {item} arrived in perfect condition.",
            "The {qty} {item} from our last order arrived fine.",
            "The {item} we got in March work well.",
        ],
        [
            "We still have {qty} {item} in our warehouse.",
            "There are {qty} {item} left on our shelves.",
            "We have {qty} {item} in stock ourselves.",
        ],
        [
            "Our technician installed the {item} last week.",
            "The {item} you sent before are already installed.",
            "The {item} were installed yesterday.",
        ],
    ]
)
DISTRACTORS = paraphrases(
    [
        ["Our PO reference is PO-{n}.", "Our PO number: PO-{n}", "PO ref: {n}"],
        [
            "Deliver to: Unit {small}, Harbour Road",
            "Delivery address: Unit {small}, Dock Road",
            "Ship to building {small}, dock B",
        ],
        [
            "Please invoice our office in Leeds.",
            "Send the invoice to our head office.",
            "Bill our headquarters as usual.",
        ],
        [
            "Use gate {small} for the delivery.",
            "Drivers should use entrance {small}.",
            "Deliveries via gate {small} please.",
        ],
        ["Our customer number is C-{n}.", "Customer no. C-{n}", "Account C-{n}"],
        [
            "Call me on extension {n}.",
            "My direct line is extension {n}.",
            "Contact our warehouse on extension {n}.",
        ],
    ]
)
NON_ORDERS = paraphrases(
    [
        ["Do you have {item} in stock?", "Are {item} in stock?", "Is the {item} available?"],
        [
            "What is the lead time for {qty} {item}?",
            "How long would {qty} {item} take?",
            "What's the delivery time for {item}?",
        ],
        [
            "Can you send a quote for {qty} {item}?",
            "Please quote {qty} {item}.",
            "How much would {qty} {item} cost?",
        ],
        [
            "Is the {item} available in blue?",
            "Do the {item} come in other colours?",
            "Is there a stainless version of the {item}?",
        ],
        [
            "Please confirm receipt of our payment.",
            "Did you receive our payment?",
            "Could you check the status of our last order?",
        ],
        [
            "Do you still sell {item}?",
            "Are {item} still in your range?",
            "Have the {item} been discontinued?",
        ],
    ]
)
BY_ABLE = ("next", "this", "end", "tomorrow")  # relative phrases that read well after "by"
CLOSINGS = shared(["Thanks in advance.", "Please confirm.", "Let me know if anything is unclear."])


def _quantity(product: Product, rng: random.Random) -> int:
    if product.unit_price < 20:
        return rng.choice([10, 20, 24, 50, 100, 150, 200, 250, 500, 1000, 1200])
    if product.unit_price < 100:
        return rng.choice([4, 5, 6, 8, 10, 12, 15, 20, 30, 40, 60, 80])
    if product.unit_price < 500:
        return rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 20])
    return rng.choice([1, 2, 3, 4, 5, 6])


def _written_quantity(quantity: int, rng: random.Random, template: str = "") -> str:
    glued = re.search(r"[x\u00d7]\{qty\}", template) is not None  # 'x20', never 'xtwenty'
    if quantity in NUMBER_WORDS and not glued and rng.random() < 0.25:
        return NUMBER_WORDS[quantity]
    if quantity >= 1000 and rng.random() < 0.5:
        return f"{quantity:,}"
    return str(quantity)


def _item(product: Product, rng: random.Random, split: Split) -> str:
    style = rng.randrange(7)
    if style == 0:
        return product.name
    if style == 1:
        return plural(product.name).lower()
    if style == 2:
        return product.sku
    if style == 3:
        return (
            f"{product.sku} {product.name}"
            if split == "train"
            else f"{product.name} ({product.sku})"
        )
    if style == 4:
        words = plural(product.name).split(" ")
        i = rng.randrange(len(words))
        return " ".join([*words[:i], typo(words[i], rng), *words[i + 1 :]]).lower()
    return ALIASES[product.sku][0 if split == "train" else 1]


def _requested(today: date, rng: random.Random, split: Split) -> tuple[str, date]:
    if rng.random() < 0.5:
        day = today + timedelta(days=rng.randint(5, 80))
        written = absolute_date(day, rng, split, with_year=rng.random() < 0.6)
        return ABSOLUTE_DATE_SENTENCES.pick(rng, split).format(d=written), day
    phrase, day = relative_date(today, rng)
    if phrase.startswith("the end") or (phrase[0].isupper() or phrase.startswith(BY_ABLE)):
        phrase = "by " + phrase if phrase.startswith("the") or rng.random() < 0.7 else phrase
    return RELATIVE_DATE_SENTENCES.pick(rng, split).format(rel=phrase), day


def _line_block(
    chosen: list[tuple[Product, int]], rng: random.Random, split: Split
) -> tuple[str, list[str]]:
    """The order lines as a list, a sentence or a table; also each line's own text."""
    layout = rng.random()
    items = [(_written_quantity(qty, rng), _item(product, rng, split)) for product, qty in chosen]
    if layout < 0.5:
        bullet = BULLETS.pick(rng, split)
        templates = [LIST_LINES.pick(rng, split) for _ in chosen]
        mentions = [
            template.format(qty=_written_quantity(qty, rng, template), item=item)
            for template, (_, qty), (_, item) in zip(templates, chosen, items, strict=True)
        ]
        bullets = [bullet.format(n=n, letter="abcd"[n - 1]) for n in range(1, len(items) + 1)]
        lines = [b + mention for b, mention in zip(bullets, mentions, strict=True)]
        return "\n".join(lines), mentions
    if layout < 0.8 or len(items) == 1:
        mentions = [INLINE_ITEMS.pick(rng, split).format(qty=q, item=i) for q, i in items]
        joined = mentions[0] if len(mentions) == 1 else ", ".join(mentions[:-1])
        if len(mentions) > 1:
            joined += rng.choice([" and ", ", and ", " plus "]) + mentions[-1]
        return f"{INLINE_LEADS.pick(rng, split)} {joined}.", mentions
    rows = [
        (product.sku, product.name, q) for (product, _), (q, _) in zip(chosen, items, strict=True)
    ]
    if split == "train":
        mentions = [f"{sku} | {name} | {q}" for sku, name, q in rows]
        return "SKU | Description | Qty\n" + "\n".join(mentions), mentions
    mentions = [f"{name.ljust(26)}{sku.ljust(10)}{q}" for sku, name, q in rows]
    return "Product".ljust(26) + "Code".ljust(10) + "Qty\n" + "\n".join(mentions), mentions


def _distractors(
    rng: random.Random, split: Split, today: date, requested: date | None
) -> list[str]:
    """Sentences with figures, products or dates that are not order lines or the due date."""
    found = []
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        product = rng.choice(PRODUCTS)
        sentences = PRODUCT_DISTRACTORS if rng.random() < 0.3 else DISTRACTORS
        found.append(
            sentences.pick(rng, split).format(
                n=rng.randint(1000, 99999),
                small=rng.randint(2, 19),
                qty=_quantity(product, rng),
                item=_item(product, rng, split),
            )
        )
    if rng.random() < 0.15:
        past = absolute_date(today - timedelta(days=rng.randint(3, 60)), rng, split)
        found.append(PAST_DATE_DISTRACTORS.pick(rng, split).format(d=past))
    if rng.random() < 0.15:
        day = today + timedelta(days=rng.randint(3, 60))
        future = absolute_date(day + timedelta(days=int(day == requested)), rng, split)
        found.append(FUTURE_DATE_DISTRACTORS.pick(rng, split).format(d=future))
    return found


def _wrap(body: list[str], rng: random.Random, split: Split) -> str:
    """Greeting and signature around the body, as an e-mail or a short chat message."""
    company = rng.choice(CUSTOMERS).name
    if rng.random() < 0.25:
        return "\n".join(body)
    closing = [CLOSINGS.pick(rng, split)] if rng.random() < 0.4 else []
    parts = [GREETINGS.pick(rng, split), *body, *closing, signature(rng, split, company)]
    return "\n\n".join(parts)


def order_example(rng: random.Random, split: Split) -> dict[str, Any]:
    today = random_day(rng, date(2026, 1, 5), date(2026, 11, 20))
    if rng.random() < 0.08:  # mentions products, but orders nothing
        product = rng.choice(PRODUCTS)
        question = NON_ORDERS.pick(rng, split).format(
            item=plural(product.name).lower(), qty=_quantity(product, rng)
        )
        noise = [add_typos(text, rng, 0.03) for text in _distractors(rng, split, today, None)]
        return {
            "text": _wrap([question, *noise], rng, split),
            "today": today.isoformat(),
            "lines": [],
            "requested_date": None,
        }
    count = rng.choices([1, 2, 3, 4], weights=[35, 30, 20, 15])[0]
    chosen = [(product, _quantity(product, rng)) for product in rng.sample(PRODUCTS, count)]
    block, mentions = _line_block(chosen, rng, split)
    sentence, requested = _requested(today, rng, split) if rng.random() < 0.7 else ("", None)
    noise = [add_typos(text, rng, 0.03) for text in _distractors(rng, split, today, requested)]
    body = [block, *noise]
    rng.shuffle(body)
    if block.startswith(("SKU", "Product")) or ("\n" in block and rng.random() < 0.6):
        body.insert(0, INTROS.pick(rng, split))
    if sentence:
        body.insert(rng.choice([len(body), 0]), add_typos(sentence, rng, 0.02))
    return {
        "text": _wrap(body, rng, split),
        "today": today.isoformat(),
        "lines": [
            {"sku": product.sku, "quantity": qty, "mention": mention}
            for (product, qty), mention in zip(chosen, mentions, strict=True)
        ],
        "requested_date": requested.isoformat() if requested else None,
    }
