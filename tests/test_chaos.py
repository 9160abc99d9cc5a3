"""bench/chaos.py with small counts: killed workers, a killed Temporal, racing starts and
decisions, and failing systems lose nothing, leave nothing stuck and write nothing twice.

One `baton dev` for the module, on ports from tests/ports.py and in its own directory; each
scenario starts on a freshly reset sandbox and waits on conditions, each bounded by the plan's
deadline (what is not finished by then is reported stuck and fails the test).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from bench.chaos import (
    Chaos,
    DevStack,
    Plan,
    Result,
    chaos_on,
    details,
    ledger_intact,
    run_scenario,
    running_stack,
    stack_env,
)
from tests.ports import free_ports

PLAN = Plan(
    orders=6,
    kills=2,
    waiting=3,
    approval_due_s=8,  # long enough for bob to decide before it escalates in `racing`
    starts=10,
    decisions=5,
    fault_orders=4,
    deadline_s=75,  # the stranded bot steps of a killed worker are retried after 30 s
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    home = tmp_path_factory.mktemp("chaos")
    env = stack_env(home / "data", free_ports(7), BATON_POLICIES=PLAN.policies())
    with running_stack(env, home) as running:
        yield running


@pytest.fixture
async def chaos(stack: DevStack) -> AsyncIterator[Chaos]:
    async with chaos_on(stack, PLAN) as means:
        yield means


async def survives(chaos: Chaos, scenario: Callable[[Chaos], Awaitable[Result]]) -> Result:
    result = await run_scenario(chaos, scenario)
    assert result.ok, details([result])
    assert result.started
    assert result.completed + result.rejected == result.started
    return result


async def test_worker_kills_during_bot_steps(chaos: Chaos) -> None:
    result = await survives(chaos, Chaos.worker_kills)
    assert result.completed == PLAN.orders


async def test_temporal_killed_while_people_and_timers_wait(chaos: Chaos) -> None:
    result = await survives(chaos, Chaos.temporal_kill)
    assert result.completed == PLAN.waiting
    assert result.ledger.startswith("1.00 ")  # one ledger row per decision


async def test_concurrent_starts_with_one_key_make_one_process(chaos: Chaos) -> None:
    result = await survives(chaos, Chaos.idempotent_starts)
    assert result.started == result.completed == 1


async def test_racing_decisions_are_applied_once(chaos: Chaos) -> None:
    result = await survives(chaos, Chaos.racing_decisions)
    assert result.started == 2
    assert result.ledger.startswith("1.00 ")


async def test_failing_systems_write_once(chaos: Chaos) -> None:
    result = await survives(chaos, Chaos.failing_systems)
    assert result.completed == PLAN.fault_orders


def test_the_ledger_is_intact(stack: DevStack) -> None:
    summary = ledger_intact(stack.data_dir)
    assert summary.startswith("ledger intact"), summary
