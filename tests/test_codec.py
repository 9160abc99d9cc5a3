"""Sealed payloads: the codec, its keys and rotation, and the codec server the Temporal UI uses.

The canary test plants an e-mail address, a phone number and an IBAN in an order and finds none
in what Temporal keeps, then finds all three through the codec server, as the UI would.
"""

import asyncio
import base64
import os
import stat
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import SecretStr
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker
from typer.testing import CliRunner

from api.codec_server import COOKIE, create_codec_app
from baton.cli import app as cli
from baton.devstack import DevStack
from core.codec import ENCODING, KEY_ID, SealedPayloadError, SealingCodec, load_keyring
from core.keys import Keyring, KeyringError
from core.replay import fetch_history, open_history, replay
from core.settings import Environment, Settings
from core.temporal import data_converter
from tests.helpers import (
    ALICE,
    BOB,
    FAST_POLICY,
    Stack,
    decide,
    open_task,
    serve,
    start,
    state,
    until,
    wait_for,
)
from tests.ports import free_ports
from workers.registry import PROCESS_WORKFLOWS
from workflows.contracts.orders import ORDER_FULFILLMENT

EMAIL = "jane.doe@example.org"
PHONE = "+49 151 2345 6789"
IBAN = "DE89 3704 0044 0532 0130 00"
CANARIES = (EMAIL, PHONE, IBAN)
# Spaced: written "+49 151 23456789", the local AI reads the number as a quantity (over the
# limit) and the run fails; a bug of the extraction, not of the codec.
MESSAGE = (
    "Hi team, we need 40 ball bearings 6204 and 3 PLC controllers asap. "
    f"Regards, Jane ({EMAIL}, tel. {PHONE}, IBAN {IBAN})"
)
LINES = [{"sku": "BRG-810", "quantity": 40}, {"sku": "CTL-710", "quantity": 3}]
FOREIGN_ORIGIN = "http://evil.example"


def key(seed: int) -> str:
    return base64.b64encode(bytes([seed]) * 32).decode()


def plain(value: object) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


def leaks(blob: bytes) -> list[str]:
    return [canary for canary in CANARIES if canary.encode() in blob]


def raw_bytes(history: WorkflowHistory) -> bytes:
    """Everything Temporal keeps of the run, as bytes (JSON would hide payloads in base64)."""
    return History(events=history.events).SerializeToString() + history.to_json().encode()


def payloads_in(message: Message) -> list[Payload]:
    """Every Payload anywhere under `message`."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None:
            continue
        items = list(value.values()) if kind.GetOptions().map_entry else None
        if items is not None and items and not isinstance(items[0], Message):
            continue
        children = items if items is not None else (list(value) if field.is_repeated else [value])
        for child in children:
            if isinstance(child, Payload):
                found.append(child)
            else:
                found += payloads_in(child)
    return found


# -- the codec ----------------------------------------------------------------------------------


async def test_a_payload_round_trips_sealed() -> None:
    codec = SealingCodec(Keyring("k1", {"k1": base64.b64decode(key(1))}))
    original = plain({"message": MESSAGE})
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert not leaks(sealed.SerializeToString())
    assert b"json/plain" not in sealed.SerializeToString()  # the original metadata is sealed too
    [again] = await codec.encode([original])
    assert again.data != sealed.data  # a fresh nonce each time
    assert await codec.decode([sealed]) == [original]
    assert await codec.encode([sealed]) == [sealed]  # never sealed twice


async def test_plain_payloads_pass_through_decoding() -> None:
    codec = SealingCodec(Keyring("k1", {"k1": base64.b64decode(key(1))}))
    original = plain({"recorded": "before the codec"})
    assert await codec.decode([original]) == [original]


async def test_rotation_opens_old_payloads_and_seals_with_the_new_key() -> None:
    old, new = base64.b64decode(key(1)), base64.b64decode(key(2))
    before = SealingCodec(Keyring("k1", {"k1": old}))
    [sealed_before] = await before.encode([plain(MESSAGE)])
    after = SealingCodec(Keyring("k2", {"k1": old, "k2": new}))
    assert await after.decode([sealed_before]) == [plain(MESSAGE)]
    [sealed_after] = await after.encode([plain(MESSAGE)])
    assert sealed_after.metadata[KEY_ID] == b"k2"
    with pytest.raises(SealedPayloadError, match=r"key 'k2', which BATON_CODEC_KEYS lacks"):
        await before.decode([sealed_after])


async def test_tampered_payloads_do_not_open() -> None:
    keys = {"k1": base64.b64decode(key(1)), "k2": base64.b64decode(key(2))}
    codec = SealingCodec(Keyring("k1", keys))
    [sealed] = await codec.encode([plain(MESSAGE)])
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(SealedPayloadError, match="does not authenticate"):
        await codec.decode([flipped])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID] = b"k2"
    with pytest.raises(SealedPayloadError, match="does not authenticate"):
        await codec.decode([relabelled])


async def test_an_unknown_key_id_fails_clearly() -> None:
    codec = SealingCodec(Keyring("k1", {"k1": base64.b64decode(key(1))}))
    [sealed] = await SealingCodec(Keyring("k0", {"k0": base64.b64decode(key(9))})).encode(
        [plain(MESSAGE)]
    )
    with pytest.raises(SealedPayloadError) as raised:
        await codec.decode([sealed])
    assert "'k0'" in str(raised.value)
    assert "it has: k1" in str(raised.value)


async def test_failure_messages_and_stack_traces_are_sealed() -> None:
    converter = data_converter(Settings(_env_file=None))
    failure = Failure()
    try:
        raise ApplicationError(f"cannot reach {EMAIL}", type="Unreachable")
    except ApplicationError as error:
        await converter.encode_failure(error, failure)
    assert failure.message == "Encoded failure"
    assert not failure.stack_trace
    assert not leaks(failure.SerializeToString())
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == f"cannot reach {EMAIL}"
    assert "test_codec.py" in (decoded.failure.stack_trace if decoded.failure else "")


# -- keys ---------------------------------------------------------------------------------------


def without_keys(data_dir: Path) -> Settings:
    """Dev settings with no codec keys. (Not `codec_keys={}` at init: pydantic-settings merges
    a dict given there with the one in the environment, the session's test key.)"""
    settings = Settings(_env_file=None, env=Environment.DEV, data_dir=data_dir)
    return settings.model_copy(update={"codec_keys": {}, "codec_key_id": ""})


def test_configured_keys_and_the_current_id(tmp_path: Path) -> None:
    keys = {"2026-01": SecretStr(key(1)), "2026-06": SecretStr(key(2))}
    settings = without_keys(tmp_path).model_copy(update={"codec_keys": keys})
    assert load_keyring(settings).current == "2026-06"  # default: the last id
    chosen = settings.model_copy(update={"codec_key_id": "2026-01"})
    assert load_keyring(chosen).current == "2026-01"
    unknown = settings.model_copy(update={"codec_key_id": "2027-01"})
    with pytest.raises(KeyringError, match="key id '2027-01' is not in BATON_CODEC_KEYS"):
        load_keyring(unknown)
    short = settings.model_copy(update={"codec_keys": {"k": SecretStr(key(1)[:20])}})
    with pytest.raises(KeyringError, match=r"not base64|needs 32"):
        load_keyring(short)
    assert key(1) not in repr(settings)
    assert key(1) not in repr(load_keyring(settings))
    assert not (tmp_path / "codec-keys.json").exists()


def test_prod_without_keys_is_a_clear_startup_error(tmp_path: Path) -> None:
    settings = without_keys(tmp_path).model_copy(update={"env": Environment.PROD})
    with pytest.raises(KeyringError, match="BATON_CODEC_KEYS is not set"):
        data_converter(settings)


async def test_dev_makes_one_key_and_keeps_it(tmp_path: Path) -> None:
    settings = without_keys(tmp_path)
    first = SealingCodec(load_keyring(settings))
    path = tmp_path / "codec-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [sealed] = await first.encode([plain(MESSAGE)])
    again = SealingCodec(load_keyring(settings))  # a restart of `make run`
    assert await again.decode([sealed]) == [plain(MESSAGE)]
    assert os.listdir(tmp_path) == ["codec-keys.json"]  # no temporary file left behind


# -- the canaries, end to end -------------------------------------------------------------------


@pytest.fixture
async def codec_server(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_codec_app(stack.settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http


def ui_headers(stack: Stack, api_key: str | None = None) -> dict[str, str]:
    """What the Temporal UI's page sends to the codec server."""
    headers = {
        "Origin": stack.settings.temporal_ui_origin,
        "Content-Type": "application/json",
        "X-Namespace": stack.settings.temporal_namespace,
    }
    return headers | ({"Authorization": f"Bearer {api_key}"} if api_key else {})


def as_protocol(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def from_protocol(text: str) -> bytes:
    decoded = json_format.Parse(text, Payloads())
    return b"".join(payload.SerializeToString() for payload in decoded.payloads)


async def histories_of(client: Client, process_id: str) -> list[WorkflowHistory]:
    """The run's raw history and those of its children (its human tasks)."""
    history = await fetch_history(client, process_id)
    children = [
        event.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for event in history.events
        if event.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
    return [history, *[await fetch_history(client, child) for child in children]]


async def test_canaries_never_reach_temporal_and_the_codec_server_shows_them(
    stack: Stack, codec_server: httpx.AsyncClient
) -> None:
    stack.set_policy(ORDER_FULFILLMENT, FAST_POLICY.model_copy(update={"approval_threshold": 1}))
    order = {"customer_id": "C-1002", "message": MESSAGE}
    process_id = await start(stack, ORDER_FULFILLMENT.name, order)
    # Whatever it waits for (a review of the lines, the approval), answer with a canary too.
    for _ in range(3):
        state = await until(stack, process_id, "waiting", "completed")
        if state["status"] == "completed":
            break
        if state["stage"] == "review-lines":
            task_id = await open_task(stack, process_id, ALICE)
            await decide(stack, task_id, ALICE, "confirm", comment=PHONE, data={"lines": LINES})
        else:
            task_id = await open_task(stack, process_id, BOB)
            await decide(stack, task_id, BOB, "approve", comment=PHONE)
        await wait_for(partial(_moved_on, stack, process_id, task_id), f"{task_id} to close")
    assert (await until(stack, process_id, "completed"))["result"]["outcome"] == "confirmed"

    histories = await histories_of(stack.client, process_id)
    assert len(histories) >= 2, "expected the order and at least one task"
    for history in histories:
        assert not leaks(raw_bytes(history)), f"{history.workflow_id} leaks in clear"
        opened = await open_history(history, stack.client.data_converter)
        if history.workflow_id == process_id:
            assert leaks(raw_bytes(opened)) == list(CANARIES), "the opened history shows them"
    # The sealed histories still replay (and the opened ones are what a saved history holds).
    outcome = await replay(histories[0], PROCESS_WORKFLOWS, stack.client.data_converter)
    assert outcome.deterministic, outcome.error
    opened_order = await open_history(histories[0], stack.client.data_converter)
    outcome = await replay(opened_order, PROCESS_WORKFLOWS, pydantic_data_converter)
    assert outcome.deterministic, outcome.error

    payloads = [p for history in histories for p in payloads_in(History(events=history.events))]
    body = as_protocol(payloads)
    decoded = await codec_server.post("/decode", content=body, headers=ui_headers(stack, ALICE))
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == stack.settings.temporal_ui_origin
    assert leaks(from_protocol(decoded.text)) == list(CANARIES)

    nobody = await codec_server.post("/decode", content=body, headers=ui_headers(stack))
    assert nobody.status_code == 401
    assert not leaks(nobody.content)
    forged = await codec_server.post("/decode", content=body, headers=ui_headers(stack, "bk_no"))
    assert forged.status_code == 401
    foreign = ui_headers(stack, ALICE) | {"Origin": FOREIGN_ORIGIN}
    assert (await codec_server.post("/decode", content=body, headers=foreign)).status_code == 403


async def _moved_on(stack: Stack, process_id: str, task_id: str) -> bool:
    shown = await state(stack, process_id)
    return all(task["task_id"] != task_id for task in shown["open_tasks"])


@activity.defn(name="test.codec.unreachable")
async def unreachable(address: str) -> None:
    raise ApplicationError(f"cannot reach {address}", non_retryable=True)


@workflow.defn(name="TestCodecFailing", sandboxed=False)
class Failing:
    @workflow.run
    async def run(self, address: str) -> None:
        try:
            await workflow.execute_activity(
                unreachable,
                address,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as error:
            raise ApplicationError(f"gave up on {IBAN}", non_retryable=True) from error


async def test_failure_messages_are_sealed_in_the_history(client: Client, task_queue: str) -> None:
    workflow_id = f"codec-failing-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Failing], activities=[unreachable]):
        with pytest.raises(WorkflowFailureError) as failed:
            await client.execute_workflow(Failing.run, EMAIL, id=workflow_id, task_queue=task_queue)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == f"gave up on {IBAN}"  # the client opens it
    history = await fetch_history(client, workflow_id)
    assert not leaks(raw_bytes(history))
    failures = [
        event.workflow_execution_failed_event_attributes.failure
        for event in history.events
        if event.HasField("workflow_execution_failed_event_attributes")
    ] + [
        event.activity_task_failed_event_attributes.failure
        for event in history.events
        if event.HasField("activity_task_failed_event_attributes")
    ]
    assert [failure.message for failure in failures] == ["Encoded failure"] * 2
    opened = await open_history(history, client.data_converter)
    assert leaks(raw_bytes(opened)) == [EMAIL, IBAN]


# -- the codec server ---------------------------------------------------------------------------


async def test_preflight_admits_the_ui_origin_only(
    stack: Stack, codec_server: httpx.AsyncClient
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    ui = await codec_server.options(
        "/decode", headers=preflight | {"Origin": stack.settings.temporal_ui_origin}
    )
    assert ui.status_code == 200  # no key needed for a preflight
    assert ui.headers["access-control-allow-origin"] == stack.settings.temporal_ui_origin
    assert ui.headers["access-control-allow-credentials"] == "true"
    other = await codec_server.options("/decode", headers=preflight | {"Origin": FOREIGN_ORIGIN})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


async def test_a_person_signs_in_and_the_session_decodes(
    stack: Stack, codec_server: httpx.AsyncClient
) -> None:
    codec = SealingCodec(load_keyring(stack.settings))
    body = as_protocol(await codec.encode([plain(MESSAGE)]))
    page = await codec_server.get("/")
    assert "Sign in" in page.text

    wrong = await codec_server.post("/session", data={"key": "bk_wrong"})
    assert wrong.status_code == 401
    signed = await codec_server.post("/session", data={"key": ALICE})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert ALICE not in cookie
    assert "Signed in as <b>alice</b>" in (await codec_server.get("/")).text

    decoded = await codec_server.post("/decode", content=body, headers=ui_headers(stack))
    assert decoded.status_code == 200, decoded.text
    assert leaks(from_protocol(decoded.text)) == list(CANARIES)
    encoded = await codec_server.post(
        "/encode", content=as_protocol([plain("x")]), headers=ui_headers(stack)
    )
    assert json_format.Parse(encoded.text, Payloads()).payloads[0].metadata["encoding"] == ENCODING

    token = codec_server.cookies[COOKIE]
    codec_server.cookies.clear()
    assert (
        await codec_server.post("/decode", content=body, headers=ui_headers(stack))
    ).status_code == 401
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    with_tampered = ui_headers(stack) | {"Cookie": f"{COOKIE}={tampered}"}
    assert (
        await codec_server.post("/decode", content=body, headers=with_tampered)
    ).status_code == 401
    out = await codec_server.post("/sign-out", headers={"Cookie": f"{COOKIE}={token}"})
    assert out.status_code == 303
    assert out.headers["set-cookie"].startswith(f'{COOKIE}=""')


def test_the_codec_server_command_exists() -> None:
    result = CliRunner().invoke(cli, ["codec-server", "--help"])
    assert result.exit_code == 0, result.output
    assert "BATON_CODEC_PORT" in result.output


async def test_the_dev_servers_ui_is_told_the_codec_endpoint(tmp_path: Path) -> None:
    """`baton dev` starts Temporal with the codec endpoint: the UI's settings name it."""
    temporal, ui, http, metrics, codec = free_ports(5)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        temporal_address=f"127.0.0.1:{temporal}",
        temporal_ui_url=f"http://127.0.0.1:{ui}",
        temporal_http_port=http,
        temporal_metrics_port=metrics,
        codec_port=codec,
    )
    server = await asyncio.create_subprocess_exec(
        *DevStack(settings)._temporal_argv(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=2) as http_client:

            async def ui_settings() -> dict[str, Any] | None:
                try:
                    answer = await http_client.get(f"{settings.temporal_ui_url}/api/v1/settings")
                except httpx.HTTPError:
                    return None
                return dict(answer.json()) if answer.status_code == 200 else None

            shown = await wait_for(ui_settings, "the Temporal UI", seconds=30)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
    assert shown["Codec"]["Endpoint"] == f"http://127.0.0.1:{codec}"
