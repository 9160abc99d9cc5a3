"""Replays a run's history against today's workflow code: is it still deterministic?"""

import json
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer


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
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def replay(history: WorkflowHistory, workflows: tuple[type, ...]) -> ReplayOutcome:
    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    started = history.events[0].workflow_execution_started_event_attributes
    failure = result.replay_failure
    return ReplayOutcome(
        workflow_id=history.workflow_id,
        workflow_type=started.workflow_type.name,
        error=f"{type(failure).__name__}: {failure}" if failure else None,
    )
