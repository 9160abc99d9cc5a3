"""The API's last-read process states: answered again only while the history has not grown."""

from types import SimpleNamespace
from typing import cast

from temporalio.client import WorkflowExecutionDescription

from api.live_states import LiveStates
from workflows.contracts.processes import ProcessState


def described(process_id: str, length: int) -> WorkflowExecutionDescription:
    fake = SimpleNamespace(id=process_id, run_id="run-1", history_length=length)
    return cast(WorkflowExecutionDescription, fake)


def state(process_id: str, stage: str) -> ProcessState:
    return ProcessState(process_id=process_id, process_type="t", business_key="k", stage=stage)


def test_a_state_is_kept_until_the_history_grows() -> None:
    states = LiveStates()
    assert states.get(described("p", 10)) is None
    states.put(described("p", 10), state("p", "approval"))
    again = states.get(described("p", 10))
    assert again is not None
    assert again.stage == "approval"
    again.stage = "changed by a caller"
    assert states.get(described("p", 10)) == state("p", "approval")  # callers get copies
    assert states.get(described("p", 12)) is None  # a workflow task ran since: ask again


def test_the_least_recently_read_go_first() -> None:
    states = LiveStates(size=2)
    for name in ("a", "b"):
        states.put(described(name, 5), state(name, "s"))
    assert states.get(described("a", 5)) is not None
    states.put(described("c", 5), state("c", "s"))
    assert states.get(described("b", 5)) is None
    assert states.get(described("a", 5)) is not None
    assert states.get(described("c", 5)) is not None
