"""Business events from other systems: signed per source, routed to a start or a signal, and
applied once however often they are sent."""

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from core.events import SIGNATURE_HEADER, ReceivedEvent, remember, sign
from core.settings import Settings
from tests.helpers import DAVE, Stack, decide, open_task, start, until
from tests.test_invoice_processing import FAST, INVOICE, invoice_text
from workflows.contracts.invoices import INVOICE_PROCESSING

SECRETS = {"crm": "crm-test-secret", "finance": "finance-test-secret"}
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 5}]}


@pytest.fixture
def sources(stack: Stack) -> Stack:
    stack.settings.event_secrets = {name: SecretStr(secret) for name, secret in SECRETS.items()}
    return stack


async def send(
    stack: Stack,
    source: str,
    event: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    at: int | None = None,
) -> httpx.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    signature = sign(secret or SECRETS.get(source, "none"), body, at)
    return await stack.api.post(
        f"/v1/events/{source}",
        content=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )


async def test_an_event_starts_a_process_once(sources: Stack) -> None:
    event = {"id": "crm-msg-1", "type": "crm.message_received", "data": SMALL}
    first = await send(sources, "crm", event)
    assert first.status_code == 202, first.text
    started = first.json()
    assert started["action"] == "started"
    assert started["repeated"] is False
    done = await until(sources, started["process_id"], "completed")
    assert done["requested_by"] == "event:crm"
    again = await send(sources, "crm", event)
    assert again.status_code == 200
    assert again.json() == {**started, "repeated": True}


async def test_a_credit_note_event_answers_the_invoice_waiting_for_it(sources: Stack) -> None:
    sources.set_policy(INVOICE_PROCESSING, FAST)
    text = invoice_text("NW-2026-0516", widget_price=7.50)
    process_id = await start(sources, INVOICE, {"text": text}, key=DAVE)
    await until(sources, process_id, "waiting", stage="match-exception")
    await decide(sources, await open_task(sources, process_id, DAVE), DAVE, "request_credit_note")
    await until(sources, process_id, "waiting", stage="credit note")
    business_key = process_id.split(":")[1]
    note = {
        "id": "fin-cn-77",
        "type": "finance.credit_note_received",
        "key": business_key,
        "data": {"number": "CN-77", "amount": 160.0},
    }
    signalled = await send(sources, "finance", note)
    assert signalled.status_code == 202, signalled.text
    assert signalled.json()["action"] == "signalled"
    done = await until(sources, process_id, "completed")
    assert done["credit_note"] == {"number": "CN-77", "amount": 160.0}
    assert done["result"]["amount"] == 5040.0
    repeat = await send(sources, "finance", note)
    assert repeat.status_code == 200
    assert repeat.json()["repeated"] is True
    # A new event for a process that no longer waits is refused, and says why.
    late = await send(sources, "finance", {**note, "id": "fin-cn-78"})
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "no_running_process"


async def test_what_is_refused_before_anything_happens(sources: Stack) -> None:
    event = {"id": "crm-msg-2", "type": "crm.message_received", "data": SMALL}
    forged = await send(sources, "crm", event, secret="guessed")
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "bad_signature"
    stale = await send(sources, "crm", event, at=int(time.time()) - 3600)
    assert stale.status_code == 401
    assert "more than 300 s from now" in stale.json()["error"]["message"]
    unsigned = await sources.api.post("/v1/events/crm", json=event)
    assert unsigned.status_code == 401
    unknown = await send(sources, "bank", event)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_source"
    not_json = await send(sources, "crm", b"{not json")
    assert not_json.status_code == 422
    no_type = await send(sources, "crm", {"id": "crm-msg-3", "data": SMALL})
    assert no_type.status_code == 422
    assert no_type.json()["error"]["details"][0]["field"] == "body.type"
    unrouted = await send(sources, "crm", {**event, "type": "crm.lead_created"})
    assert unrouted.status_code == 422
    bad_input = await send(sources, "crm", {**event, "data": {"customer_id": "C-1001"}})
    assert bad_input.status_code == 422
    bad_note = {"id": "fin-1", "type": "finance.credit_note_received", "key": "IN-1", "data": {}}
    assert (await send(sources, "finance", bad_note)).status_code == 422
    no_key = {**bad_note, "key": None, "data": {"number": "CN-1", "amount": 1.0}}
    no_key_answer = await send(sources, "finance", no_key)
    assert no_key_answer.status_code == 422
    assert no_key_answer.json()["error"]["details"][0]["field"] == "body.key"
    # None of them started anything: the first valid send of the event is still new.
    valid = await send(sources, "crm", event)
    assert valid.status_code == 202


@pytest.mark.parametrize(
    ("route", "wrong"),
    [
        ({"process_type": "payroll"}, "unknown process type 'payroll'"),
        (
            {"process_type": "order-fulfillment", "signal": "credit_note"},
            "order-fulfillment takes no signal 'credit_note'",
        ),
    ],
)
def test_a_route_to_nowhere_is_refused_at_start_up(route: dict[str, str], wrong: str) -> None:
    with pytest.raises(ValidationError, match=wrong):
        Settings(_env_file=None, event_routes={"x.happened": route})


@pytest.mark.postgres
def test_an_event_sent_twice_at_once_is_remembered_once(engine: Engine) -> None:
    """Two requests with the same event that both found it new: the second to write gets the
    first one's record (and answers as a repeat)."""

    def received(process_id: str) -> ReceivedEvent:
        return ReceivedEvent(
            source="erp",
            event_id="erp-1",
            type="erp.invoice_received",
            action="started",
            process_id=process_id,
            received_at=datetime.now(UTC),
        )

    with Session(engine, expire_on_commit=False) as session:
        first = remember(session, received("invoice-processing:IN-1"))
    with Session(engine, expire_on_commit=False) as session:
        second = remember(session, received("invoice-processing:IN-2"))
    assert second.process_id == first.process_id == "invoice-processing:IN-1"
