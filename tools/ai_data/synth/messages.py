"""Customer messages (e-mail, chat, web form) labelled with intent and urgency."""

import random

from systems.seed import CUSTOMERS, PRODUCTS
from tools.ai_data.synth.common import (
    FIRST_NAMES,
    GREETINGS,
    LAST_NAMES,
    Pool,
    Split,
    add_typos,
    maybe,
    paraphrases,
    plural,
    shared,
    signature,
)

# Each inner list says one thing several ways; the last way is held out for evaluation.
CORES: dict[str, Pool] = {
    "order": paraphrases(
        [
            [
                "We would like to order {qty} {products}.",
                "Please send us {qty} {products}.",
                "We want to buy {qty} {products}.",
                "I'd like to place an order for {qty} units of {product}.",
            ],
            [
                "We need {qty} {products}, please confirm the order.",
                "Please book {qty} {products} for us and send a confirmation.",
                "Kindly confirm an order of {qty} {products}.",
            ],
            [
                "Following your quote, we accept and order {qty} {products}.",
                "We accept your offer and would like {qty} {products}.",
                "We'll go with your quote: {qty} {products}.",
                "We'll take your offer for {qty} {products}.",
                "We'll take {qty} {products} at the quoted price.",
            ],
            [
                "Ordering {qty} {products} again, same as last month.",
                "Please repeat our last order: {qty} {products}.",
                "Same again please - {qty} {products}.",
            ],
            [
                "Can you ship {qty} {products} to our warehouse?",
                "Please deliver {qty} {products} to our plant.",
                "Send {qty} {products} to the Leeds site please.",
            ],
            [
                "Purchase request: {qty} x {product} ({sku}).",
                "Please book the following order: {qty} x {sku}.",
                "Please raise a sales order: {qty} x {sku}.",
            ],
            [
                "Please add {qty} {products} to our account and send them over.",
                "Go ahead with {qty} {products} on our account.",
                "Put us down for {products}, {qty} units.",
                "Put us down for {qty} {products}, thanks.",
            ],
            [
                "Our order for this week: {qty} {products} and {qty2} {products2}.",
                "We need {qty} {products} and {qty2} {products2} please.",
                "New order: {qty} {products} plus {qty2} {products2}.",
            ],
            [
                "Kindly supply {qty} pcs {sku} as per our framework agreement.",
                "Under our framework contract please supply {qty} {products}.",
                "As agreed in our contract, please supply {qty} {products}.",
            ],
            [
                "Can I order {qty} more {products}?",
                "We need another {qty} {products}.",
                "Please send {qty} additional {products}.",
                "Could we get {qty} additional {products}?",
            ],
        ]
    ),
    "inquiry": paraphrases(
        [
            [
                "What is the price of {products} for {qty} units?",
                "What do {products} cost per piece?",
                "Could you tell me your price for {qty} {products}?",
                "How much do {products} cost?",
                "How much is shipping for {qty} {products}?",
                "How much would {qty} {products} cost including delivery?",
            ],
            [
                "Do you have {products} in stock at the moment?",
                "Are {products} available from stock?",
                "Is {sku} still available?",
                "When will {products} be back in stock?",
                "Any idea when {products} will be back in stock?",
            ],
            [
                "Could you tell me the lead time for {products}?",
                "How long does it take to get {products}?",
                "What is the current delivery time for {products}?",
            ],
            [
                "Can you send me the datasheet for the {product}?",
                "I have a question about the dimensions of the {product}.",
                "Is {sku} RoHS certified?",
                "Where can I find the technical specs of the {product}?",
            ],
            [
                "Where is my order {order_no}? The tracking page shows nothing.",
                "When will order {order_no} be delivered?",
                "Has order {order_no} shipped yet?",
                "What's the status of order {order_no}?",
            ],
            [
                "Could you give me a quote for {qty} {products}?",
                "Please send us an offer for {qty} {products}, we are comparing suppliers.",
                "Can you quote {qty} {products}?",
                "We are collecting prices for {products}.",
                "Would you be able to quote {qty} {products}? Just collecting prices for now.",
            ],
            [
                "Do you offer volume discounts on {products}?",
                "What payment terms do you offer new customers?",
                "Could you send information on your payment terms?",
                "I'm looking for information on your payment terms.",
            ],
            [
                "Is the {product} compatible with 24V systems?",
                "Does the {product} work with our existing controllers?",
                "Can the {product} be used in wet areas?",
                "Can the {product} be used outdoors?",
            ],
            [
                "How long does shipping to Spain usually take?",
                "What are your shipping costs to Austria?",
                "Do you ship to Norway, and what does it cost?",
            ],
            [
                "Which warranty applies to the {product}?",
                "Is there a cheaper alternative to the {product}?",
                "Are spare parts available for the {product}?",
                "Could you clarify the difference between the {product} and the {product2}?",
            ],
            [
                "Can someone explain how the {product} is installed?",
                "Do you have an installation guide for the {product}?",
                "Where can I download the manual for the {product}?",
                "Is there a manual for the {product}?",
            ],
        ]
    ),
    "complaint": paraphrases(
        [
            [
                "The {products} we received in order {order_no} are damaged.",
                "The packaging was broken and several {products} are scratched.",
                "Several {products} arrived broken.",
                "We are disappointed, the {products} arrived dented.",
                "Really disappointed with order {order_no}, the {products} arrived dented.",
            ],
            [
                "We are very unhappy: the delivery arrived two weeks late.",
                "Your deliveries are always late, this has to stop.",
                "Once again the shipment came days after the promised date.",
                "I am fed up with the constant delays on our deliveries.",
            ],
            [
                "Half of the {products} in the last shipment were faulty.",
                "The {product} stopped working after two days, this is unacceptable.",
                "The replacement {product} you sent is also broken.",
                "Your product failed during commissioning and caused a delay on our side.",
                "The {product} leaks and our technician says it is a manufacturing defect.",
            ],
            [
                "You sent us the wrong item, we ordered {product} but got {product2}.",
                "We received {products2} although we ordered {products}.",
                "Wrong goods delivered again: {product2} instead of {product}.",
            ],
            [
                "Our invoice was charged twice for order {order_no}.",
                "The invoice for {order_no} shows the wrong price, please correct it.",
                "We were billed for items we never received.",
            ],
            [
                "This is the third time the delivery is incomplete.",
                "We received only {qty} {products} instead of the ordered amount.",
                "This is not acceptable - the shipment is missing {qty} {products}.",
            ],
            [
                "I want a refund for the defective {products}.",
                "Please refund us for the faulty {products}.",
                "We expect a credit note for the broken {products}.",
            ],
            [
                "Nobody has answered my emails for a week, very poor service.",
                "Your support line never picks up, this is frustrating.",
                "I sent a complaint last week and still have no reply.",
                "Still no reply to my complaint from last week.",
            ],
            [
                "The quality of the {products} has gone down a lot recently.",
                "Several {products} came without the promised certificates, please fix this.",
                "The {products} are not according to specification.",
                "The {products} do not match the specification we agreed.",
            ],
            [
                "Your driver left the pallet in the rain and the {products} are ruined.",
                "The courier dropped our parcel and the {product} is cracked.",
                "The {products} arrived wet and are unusable.",
                "The {products} were delivered soaking wet.",
            ],
        ]
    ),
    "cancellation": paraphrases(
        [
            [
                "Please cancel order {order_no}.",
                "Kindly cancel our order {order_no}.",
                "Kindly terminate our order {order_no}.",
                "Order {order_no} is no longer required - please cancel.",
            ],
            [
                "Please stop the delivery of order {order_no}, we no longer need it.",
                "We no longer need the {products}, please cancel the order.",
                "Please call off order {order_no}.",
                "Can you call off the shipment of {products}? We don't need them anymore.",
            ],
            [
                "We have to withdraw our order {order_no} due to a budget freeze.",
                "Due to budget cuts we must cancel order {order_no}.",
                "Our budget was frozen, so the order for {products} has to be cancelled.",
            ],
            [
                "Cancel the remaining {products} on order {order_no} please.",
                "Please cancel the open items on order {order_no}.",
                "Please cancel everything on {order_no} that hasn't shipped yet.",
            ],
            [
                "Our project was cancelled, so please cancel the pending order.",
                "The project fell through, please cancel our order for {products}.",
                "Please scrap order {order_no}.",
                "Our customer pulled out, so we must cancel.",
                "Scrap our last order ({order_no}), the customer pulled out.",
            ],
            [
                "Please do not ship order {order_no}, we want to cancel it.",
                "Hold the shipment and cancel order {order_no}.",
                "Don't send order {order_no}, we are cancelling it.",
            ],
            [
                "Order {order_no} was a mistake, please cancel it.",
                "We ordered the {products} by accident, please cancel.",
                "Void our order {order_no} please.",
                "Please void order {order_no}, it was placed by mistake.",
            ],
            [
                "We have decided to go with another supplier, please cancel our order.",
                "Please cancel the {products}, we sourced them elsewhere.",
                "Withdraw the order for the {product}, we found another supplier.",
            ],
            [
                "I would like to cancel my purchase of the {product}.",
                "We want to withdraw from the order for {qty} {products}.",
                "We have to back out of our order {order_no}.",
                "We'd like to back out of the order for {qty} {products}.",
            ],
            [
                "We are cancelling our standing order for {products}.",
                "Please end our monthly standing order for {products}.",
                "Please stop the recurring delivery of {products}.",
                "Stop our recurring order of {products} from next month.",
            ],
            [
                "Kindly cancel the {qty} {products} we ordered yesterday.",
                "Please cancel the {products} I ordered this morning.",
                "The {qty} {products} we ordered last week can be cancelled.",
            ],
        ]
    ),
    "other": paraphrases(
        [
            [
                "Thank you for the quick delivery last week!",
                "Many thanks for the fast shipment, much appreciated.",
                "Thanks for sorting out our delivery so quickly.",
            ],
            [
                "I am out of the office until Monday with limited access to email.",
                "Automatic reply: I am away until the 12th and will reply on my return.",
                "I'm on holiday until next week, please contact my colleague in the meantime.",
                "I am on leave this week.",
                "Auto-reply: I'm currently on leave and will respond when I'm back.",
            ],
            [
                "Please note our new billing address: 12 Harbour Road, Leeds.",
                "We have moved - please use our new address from now on.",
                "We are moving our warehouse next month.",
                "Our warehouse moves to a new location next month, details to follow.",
            ],
            [
                "We are looking for new suppliers, would you be interested in a call?",
                "We'd love to present our logistics services to you.",
                "Are you interested in advertising in our industry magazine?",
                "We invite you to exhibit at our trade fair.",
                "Would you like to exhibit at our trade fair in spring?",
            ],
            [
                "Congratulations on your new website, it looks great.",
                "Just wanted to say your technician was very helpful.",
                "Your new catalogue looks fantastic.",
            ],
            [
                "Please remove me from your newsletter.",
                "Stop sending me marketing emails please.",
                "Unsubscribe me please.",
                "Please unsubscribe me from these mailings.",
            ],
            [
                "Attached is our updated supplier code of conduct for your records.",
                "Please find attached our new tax certificate.",
                "Please complete the attached vendor form.",
                "We are updating our vendor records, please fill in the attached form.",
            ],
            [
                "Our company will be closed for the holidays from 24 December.",
                "Season's greetings from all of us!",
                "Our offices are closed between Christmas and New Year.",
                "Happy holidays to the whole team!",
                "Great working with you this year, happy holidays!",
            ],
            [
                "I am reaching out about a job opening in your sales team.",
                "I would like to apply for the position of field engineer.",
                "Please find my CV attached for any open positions.",
            ],
            [
                "We have changed our bank details, see attachment.",
                "Please note our new bank account for future payments.",
                "Our IBAN has changed, details in the attached letter.",
            ],
            [
                "Please update the contact person for our account to {name}.",
                "From now on {name} will be your contact in our purchasing team.",
                "{name} has taken over my role in purchasing.",
                "FYI, {name} has taken over purchasing from me.",
            ],
            [
                "Thanks a lot for the lunch meeting yesterday.",
                "It was nice meeting you at the trade show.",
                "Good to see you at the conference last week.",
            ],
        ]
    ),
}

SUBJECTS: dict[str, Pool] = {
    "order": paraphrases(
        [["New order", "Order request", "Purchase"], ["PO for {products}", "Re: quote"]]
    ),
    "inquiry": paraphrases(
        [["Question", "Info needed", "Quick question"], ["Price request", "Query"]]
    ),
    "complaint": paraphrases([["Problem with delivery", "Not happy"], ["Damaged goods", "Issue"]]),
    "cancellation": paraphrases([["Cancel order", "Cancellation"], ["Order {order_no}", "Change"]]),
    "other": paraphrases(
        [["Hello", "Update", "News"], ["Out of office", "Automatic reply", "FYI"]]
    ),
}

URGENT = paraphrases(
    [
        ["This is urgent.", "URGENT!", "Very urgent!!"],
        [
            "URGENT - our production line is down.",
            "Our line is stopped until this is fixed.",
            "Emergency: the line has stopped.",
        ],
        [
            "We need this ASAP.",
            "As soon as possible please!",
            "Rush order please.",
            "Rush job - as fast as possible please.",
        ],
        [
            "Please treat this as top priority.",
            "High priority please.",
            "This cannot wait.",
            "Please escalate, this cannot wait.",
        ],
        [
            "Our plant is at a standstill until this is solved.",
            "Every hour of delay costs us money.",
            "We are losing money.",
            "We are losing money every hour this goes on.",
        ],
        [
            "Please respond today, it is critical.",
            "I need an answer today.",
            "Please reply within the hour.",
            "Need a reply within the hour.",
        ],
        [
            "Time-critical: we have a customer waiting.",
            "Critical for a customer delivery tomorrow.",
            "Our customer is waiting on this, it's critical.",
        ],
    ]
)
NOT_URGENT = paraphrases(
    [
        ["No rush on this.", "There's no rush.", "No hurry.", "No hurry whatsoever."],
        [
            "Whenever you have time.",
            "Reply whenever convenient.",
            "Take all the time you need.",
            "Take your time.",
        ],
        [
            "There is no hurry, next month is fine.",
            "Next month is absolutely fine.",
            "It can wait a few weeks.",
            "This can wait until after the holidays.",
        ],
        [
            "Just for planning purposes.",
            "This is only for our long-term planning.",
            "For our budget planning only.",
            "Only for our budget planning next year.",
        ],
        [
            "Low priority, answer when convenient.",
            "Low priority.",
            "Not urgent.",
            "Not urgent at all.",
        ],
    ]
)
OPENERS = paraphrases(
    [
        ["I hope you are well.", "Hope all is good on your side.", "Hope your week is going well."],
        ["Following up on our call,", "Further to our conversation,", "As discussed on the phone,"],
        [
            "Our account number is {customer_id}.",
            "Account: {customer_id}.",
            "Customer no. {customer_id}.",
        ],
    ]
)
URGENCY_MIX = {
    "order": (0.25, 0.25),  # (share high, share low)
    "inquiry": (0.15, 0.35),
    "complaint": (0.45, 0.1),
    "cancellation": (0.35, 0.1),
    "other": (0.05, 0.3),
}
CHAT_OPENERS = shared(["hi", "hello", "hey", ""])


def _slots(rng: random.Random, split: Split) -> dict[str, str]:
    first, second = rng.sample(PRODUCTS, 2)
    return {
        "qty": str(rng.choice([2, 5, 10, 12, 20, 25, 40, 50, 100, 150, 300])),
        "qty2": str(rng.choice([3, 6, 8, 15, 30, 60, 80])),
        "product": first.name if rng.random() < 0.6 else first.name.lower(),
        "products": plural(first.name).lower(),
        "product2": second.name,
        "products2": plural(second.name).lower(),
        "sku": first.sku,
        "order_no": rng.choice(["SO-", "#", "", "ORD-"]) + str(rng.randint(10000, 99999)),
        "customer_id": rng.choice(CUSTOMERS).customer_id,
        "name": f"{FIRST_NAMES.pick(rng, split)} {LAST_NAMES.pick(rng, split)}",
    }


def _urgency(rng: random.Random, intent: str) -> str:
    high, low = URGENCY_MIX[intent]
    roll = rng.random()
    if roll < high:
        return "high"
    if roll < high + low:
        return "low"
    # Out-of-office notes, thanks and newsletters need nothing from anyone soon.
    return "low" if intent == "other" else "normal"


def _body(rng: random.Random, split: Split, intent: str, urgency: str) -> str:
    slots = _slots(rng, split)
    sentences = [CORES[intent].pick(rng, split).format(**slots)]
    if urgency == "high":
        sentences.insert(rng.choice([0, 1]), URGENT.pick(rng, split))
    elif urgency == "low" and (intent != "other" or rng.random() < 0.5):
        sentences.append(NOT_URGENT.pick(rng, split))
    if rng.random() < 0.4:
        sentences.insert(0, OPENERS.pick(rng, split).format(**slots))
    return " ".join(sentences)


def message_example(rng: random.Random, split: Split) -> dict[str, str]:
    intent = rng.choice(list(CORES))
    urgency = _urgency(rng, intent)
    body = add_typos(_body(rng, split, intent, urgency), rng, 0.03)
    channel = rng.random()
    if channel < 0.5:  # e-mail
        company = rng.choice(CUSTOMERS).name
        text = f"{GREETINGS.pick(rng, split)}\n\n{body}\n\n{signature(rng, split, company)}"
    elif channel < 0.8:  # chat
        text = f"{CHAT_OPENERS.pick(rng, split)} {body}".strip()
        text = text.lower() if rng.random() < 0.5 else text
    else:  # web form
        subject = SUBJECTS[intent].pick(rng, split).format(**_slots(rng, split))
        text = f"Subject: {subject}\nMessage: {body}" + maybe(rng, 0.5, "\nSource: contact form")
    return {"text": text, "intent": intent, "urgency": urgency}
