"""Replays a run's history against today's workflow code: is it still deterministic?"""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.worker import Replayer

from core.settings import get_settings
from core.temporal import data_converter


@dataclass(frozen=True)
class ReplayOutcome:
    workflow_id: str
    workflow_type: str
    error: str | None  # None: today's code makes the same decisions

    @property
    def deterministic(self) -> bool:
        return self.error is None


def load_history(path: Path, workflow_id: str | None = None) -> WorkflowHistory:
    """A history saved as JSON: Baton's own (which names its workflow id) or the Temporal CLI's
    (`temporal workflow show --output json`, which does not: pass `workflow_id`)."""
    saved = json.loads(path.read_text())
    named = saved.pop("workflowId", None)
    return WorkflowHistory.from_json(workflow_id or named or path.stem, saved)


def dump_history(history: WorkflowHistory) -> str:
    """The CLI's JSON plus the workflow id, which replay needs (ids derive from it)."""
    return json.dumps({"workflowId": history.workflow_id, **json.loads(history.to_json())})


async def fetch_history(client: Client, workflow_id: str) -> WorkflowHistory:
    """The history as Temporal keeps it: payloads sealed (see core/codec.py)."""
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def open_history(history: WorkflowHistory, converter: DataConverter) -> WorkflowHistory:
    """A copy of the history with every sealed payload opened and failure messages and stack
    traces put back: what a saved history in the repository holds (plain JSON, no key needed)."""
    opened = History()
    opened.events.extend(history.events)
    if converter.payload_codec is not None:
        await _open_payloads(opened, converter.payload_codec)
    return WorkflowHistory(history.workflow_id, list(opened.events))


async def _open_payloads(message: Message, codec: PayloadCodec) -> None:
    """Opens, in place, every Payload anywhere under `message` (fields, lists and maps)."""
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None:
            continue
        if kind.GetOptions().map_entry:
            item_kind = kind.fields_by_name["value"].message_type
            if item_kind is not None and item_kind.full_name == Payload.DESCRIPTOR.full_name:
                for key in list(value):
                    value[key].CopyFrom((await codec.decode([value[key]]))[0])
            elif item_kind is not None:
                for item in value.values():
                    await _open_payloads(item, codec)
        elif kind.full_name == Payload.DESCRIPTOR.full_name:
            if field.is_repeated:
                payloads = await codec.decode(list(value))
                del value[:]
                value.extend(payloads)
            else:
                value.CopyFrom((await codec.decode([value]))[0])
        elif field.is_repeated:
            for item in value:
                await _open_payloads(item, codec)
        else:
            await _open_payloads(value, codec)
    if isinstance(message, Failure) and message.HasField("encoded_attributes"):
        attributes = json.loads(message.encoded_attributes.data)
        message.message = attributes.get("message", "")
        message.stack_trace = attributes.get("stack_trace", "")
        message.ClearField("encoded_attributes")


async def replay(
    history: WorkflowHistory,
    workflows: tuple[type, ...],
    converter: DataConverter | None = None,
) -> ReplayOutcome:
    """Replays one history against `workflows`."""
    replayer = _replayer(workflows, converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return _outcome(history, result.replay_failure)


async def replay_query(
    client: Client,
    query: str,
    workflows: tuple[type, ...],
    converter: DataConverter | None = None,
) -> AsyncIterator[ReplayOutcome]:
    """Replays every run a visibility query finds (e.g. the running processes a deploy would
    carry over) against `workflows`, one outcome per run as it is replayed."""
    replayer = _replayer(workflows, converter)
    histories = client.list_workflows(query).map_histories()
    async with replayer.workflow_replay_iterator(histories) as results:
        async for result in results:
            yield _outcome(result.history, result.replay_failure)


def _replayer(workflows: tuple[type, ...], converter: DataConverter | None) -> Replayer:
    """With the converter of every client (default: from the settings), so sealed histories
    open; plain ones (saved before the codec, or opened) pass through."""
    return Replayer(workflows=workflows, data_converter=converter or data_converter(get_settings()))


def _outcome(history: WorkflowHistory, failure: Exception | None) -> ReplayOutcome:
    started = history.events[0].workflow_execution_started_event_attributes
    return ReplayOutcome(
        workflow_id=history.workflow_id,
        workflow_type=started.workflow_type.name,
        error=f"{type(failure).__name__}: {failure}" if failure else None,
    )
