"""Sending an action to a task's workflow as the `act` signal, signed, and reading its verdict
through the `verdict` query: the CLI's way (the API sends the `act_and_answer` update, which
answers at once). The workflow checks every action itself, whichever way it came."""

import asyncio
import time
from typing import Any

from temporalio.client import Client, WorkflowHandle

from core.signing import Signer
from workflows.contracts.tasks import ACT_SIGNAL, VERDICT_QUERY, TaskAction, Verdict, VerdictLookup

VERDICT_WAIT_S = 15.0  # how long a caller waits for the workflow to apply an action
_POLL_S = 0.02


class NoVerdictYet(Exception):
    """The workflow has not answered within the wait; the action may still be applied."""


async def verdict_of(handle: WorkflowHandle[Any, Any], action_id: str) -> Verdict | None:
    lookup: VerdictLookup = await handle.query(VERDICT_QUERY, action_id, result_type=VerdictLookup)
    return lookup.verdict


async def send_action(client: Client, signer: Signer, task_id: str, action: TaskAction) -> Verdict:
    """Signs the action, signals it and polls for the workflow's verdict; NoVerdictYet after
    VERDICT_WAIT_S."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(task_id)
    await handle.signal(ACT_SIGNAL, signer.sign(task_id, action))
    deadline = time.monotonic() + VERDICT_WAIT_S
    while time.monotonic() < deadline:
        if (verdict := await verdict_of(handle, action.action_id)) is not None:
            return verdict
        await asyncio.sleep(_POLL_S)
    raise NoVerdictYet("the task's workflow has not answered yet")
