"""Starting a process, for the API and the CLI alike."""

import hashlib
import uuid
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import Priority as TemporalPriority
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.settings import Settings
from workflows.contracts import search_attributes as search
from workflows.contracts.processes import (
    ProcessInput,
    ProcessRun,
    ProcessStatus,
    ProcessType,
    StartContext,
    process_id_for,
)
from workflows.contracts.queues import Queues, TaskQueue

INPUT_DIGEST = "input_sha256"  # memo: what a repeated Idempotency-Key must send again


class IdempotencyKeyReused(Exception):
    """The key started a process with another input: a client bug, never the same process."""


@dataclass(frozen=True)
class StartedProcess:
    process_id: str
    business_key: str
    created: bool  # False: the idempotency key had started it before


def business_key(ptype: ProcessType, user: str, idempotency_key: str | None) -> str:
    """With an idempotency key the key decides the business key, so a repeat finds the first."""
    if idempotency_key:
        digest = hashlib.sha256(f"{ptype.name}\0{user}\0{idempotency_key}".encode()).hexdigest()
        return f"{ptype.key_prefix}-{digest[:10].upper()}"
    return f"{ptype.key_prefix}-{uuid.uuid4().hex[:10].upper()}"


@dataclass(frozen=True)
class Launch:
    """How a process starts, the same whether the API starts it now or a schedule does later."""

    run: ProcessRun
    id: str
    task_queue: str
    # Its workflow tasks too wait their turn by priority and process type, not behind a burst
    # of another type.
    priority: TemporalPriority
    static_summary: str
    static_details: str
    search_attributes: TypedSearchAttributes


def launch(
    settings: Settings,
    ptype: ProcessType,
    process_input: ProcessInput,
    requested_by: str,
    key: str,
    details: str = "",
) -> Launch:
    context = StartContext(
        business_key=key,
        requested_by=requested_by,
        queues=Queues.prefixed(settings.task_queue_prefix),
        policy=settings.policy_for(ptype),
        insight_log=settings.insight_log,
        time_scale=settings.simulated_time_scale,
    )
    return Launch(
        run=ptype.make_run(process_input, context),
        id=process_id_for(ptype.name, key),
        task_queue=f"{settings.task_queue_prefix}{TaskQueue.PROCESSES.value}",
        priority=process_input.urgency().for_temporal(ptype.name),
        static_summary=process_input.title(),
        static_details=details or f"Requested by {requested_by}.",
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search.PROCESS_TYPE, ptype.name),
                SearchAttributePair(search.BUSINESS_KEY, key),
                SearchAttributePair(search.STATUS, ProcessStatus.RUNNING.value),
                SearchAttributePair(search.CUSTOMER, process_input.counterparty()),
                SearchAttributePair(search.REQUESTED_BY, requested_by),
            ]
        ),
    )


async def start_process(
    client: Client,
    settings: Settings,
    ptype: ProcessType,
    process_input: ProcessInput,
    requested_by: str,
    idempotency_key: str | None = None,
) -> StartedProcess:
    key = business_key(ptype, requested_by, idempotency_key)
    digest = hashlib.sha256(process_input.model_dump_json().encode()).hexdigest()
    start = launch(settings, ptype, process_input, requested_by, key)
    process_id = start.id
    try:
        await client.start_workflow(
            ptype.workflow,
            start.run,
            id=process_id,
            task_queue=start.task_queue,
            priority=start.priority,
            # The same key must never start a second run, even after the first has ended.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo={INPUT_DIGEST: digest},
            static_summary=start.static_summary,
            static_details=start.static_details,
            search_attributes=start.search_attributes,
        )
    except WorkflowAlreadyStartedError:
        if not idempotency_key:
            raise
        first = await client.get_workflow_handle(process_id).describe()
        if (await first.memo_value(INPUT_DIGEST, "")) != digest:
            raise IdempotencyKeyReused(
                f"the Idempotency-Key started {process_id} with another input"
            ) from None
        return StartedProcess(process_id, key, created=False)
    return StartedProcess(process_id, key, created=True)
