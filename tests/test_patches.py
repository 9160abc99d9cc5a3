"""A run records its patch marker in its first workflow task, and no patch mid-history, where a
local activity finishing as its workflow task closes could move it (workflows/steps/patches.py).
A history recorded that way by the earlier code is kept in tests/histories/ and still replays."""

import json

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from tests.helpers import BOB, Stack, decide, until
from tests.workspace import large_order
from workflows.steps.calls import LOCAL_INBOX
from workflows.steps.human_task import ONE_WRITE
from workflows.steps.patches import FROM_THE_START


def patch_markers(history: WorkflowHistory) -> dict[str, int]:
    """Each patch marker's id and the workflow task (1, 2, ...) whose completion recorded it."""
    found: dict[str, int] = {}
    tasks = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
        attributes = event.marker_recorded_event_attributes
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED and "patch-data" in (
            attributes.details
        ):
            data = json.loads(attributes.details["patch-data"].payloads[0].data)
            found[data["id"]] = tasks
    return found


async def test_a_run_asks_its_patches_in_its_first_workflow_task_only(stack: Stack) -> None:
    process_id, task_id = await large_order(stack, "dev-alice")
    await decide(stack, task_id, BOB, "approve")
    await until(stack, process_id, "completed")
    for workflow_id in (process_id, task_id):
        history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
        markers = patch_markers(history)
        assert markers.pop(FROM_THE_START) == 1, workflow_id
        if workflow_id == task_id:  # a change made since, asked with it (Patches(ONE_WRITE))
            assert markers.pop(ONE_WRITE) == 1, workflow_id
        # The inbox patch is asked at the first inbox call, which follows no local activity.
        assert set(markers) <= {LOCAL_INBOX}, f"{workflow_id}: {markers}"
