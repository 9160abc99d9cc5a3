"""`baton insight rebuild`: the event log again, from Temporal's histories.

Every process run's state is in its history: asked with the state query, a worker replays the
history with today's code and answers (closed runs too, so the workers must be running). The
rows come from that state through the same mapping the runs use when they write the log
(`rows_of`), so a rebuilt log equals the one the runs wrote, and a run from before the log gets
the rows today's runs get. The ledger's entries need no separate reading: each was written by
an activity whose input is in the same history, and the state carries what insight uses of them.
"""

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from core.db import session_scope
from core.insight.log import clear, write_run
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import STATE_QUERY, ProcessState

CONCURRENCY = 16  # histories read at once


@dataclass
class Rebuilt:
    processes: int = 0
    steps: int = 0
    unread: dict[str, str] = field(default_factory=dict)  # process id -> why


async def state_of(client: Client, process_id: str) -> ProcessState:
    """The run's state as today's code keeps it: a worker replays its history to answer, so a
    run from before the log (or from before a field of it) gets every field today's runs do."""
    handle = client.get_workflow_handle(process_id)
    state: ProcessState = await handle.query(STATE_QUERY, result_type=ProcessState)
    return state


async def rebuild(client: Client, engine: Engine, *, where: str = "") -> Rebuilt:
    """Empties the log and writes it again for every process run Temporal lists (narrowed by
    `where`, a visibility query such as `StartTime > "2026-11-01T00:00:00Z"`). A run whose
    state cannot be read (no worker answers its query) is reported, not guessed."""
    types = ", ".join(f'"{ptype.workflow}"' for ptype in PROCESS_TYPES.values())
    query = f"WorkflowType IN ({types})" + (f" AND ({where})" if where else "")
    runs = [run.id async for run in client.list_workflows(query)]
    await asyncio.to_thread(clear, engine, runs if where else None)
    done = Rebuilt()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(process_id: str) -> None:
        async with gate:
            try:
                state = await state_of(client, process_id)
            except (RPCError, WorkflowQueryFailedError) as exc:
                done.unread[process_id] = str(exc)
                return
        await asyncio.to_thread(_write, engine, state)
        done.processes += 1
        done.steps += len(state.steps)

    await asyncio.gather(*(one(process_id) for process_id in runs))
    return done


def _write(engine: Engine, state: ProcessState) -> None:
    with session_scope(engine) as session:
        write_run(session, state)
