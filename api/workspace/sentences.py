"""Refusals as a person reads them: "You requested this order; someone else must approve it."

The task workflow says why it refused an action as a code (`Refusal`); the API passes it on in
`details.refusal`. Here each code becomes a sentence about this task, addressed to its reader.
"""

from dataclasses import dataclass

from api.errors import ApiError
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.tasks import Refusal


@dataclass(frozen=True)
class About:
    """What a sentence may mention of the task."""

    process_type: str = ""
    candidate_roles: tuple[str, ...] = ()
    assignee: str | None = None
    outcome: str = ""  # the outcome that was tried, if any


def role_names(roles: tuple[str, ...] | list[str]) -> str:
    names = [role.replace("_", " ") for role in roles]
    return " or ".join(names) if names else "another role"


def _sentence(refusal: Refusal, about: About) -> str | None:
    ptype = PROCESS_TYPES.get(about.process_type)
    noun = ptype.noun if ptype else "request"
    verb = about.outcome if about.outcome in ("approve", "reject") else "decide"
    who = about.assignee or "someone else"
    sentences = {
        Refusal.FOUR_EYES: f"You requested this {noun}; someone else must {verb} it.",
        Refusal.LACKS_ROLE: (
            f"This task needs a {role_names(about.candidate_roles)}, "
            "and your roles do not include one."
        ),
        Refusal.ASSIGNED_ELSEWHERE: f"{who} has claimed this task; only they can decide it now.",
        Refusal.ALREADY_CLAIMED: f"{who} has already claimed this task.",
        Refusal.NOT_AN_APPROVER: "Only the approvers named on this task can decide it.",
        Refusal.ALREADY_DECIDED: (
            "You have already decided on this task; the next decision must be someone else's."
        ),
        Refusal.CLOSED: "This task is already closed, so nothing was changed.",
        Refusal.NOT_THE_ASSIGNEE: (
            "Only the person who claimed this task, or an admin, can release or reassign it."
        ),
        Refusal.DELEGATE_LACKS_ROLE: (
            f"That person is not a {role_names(about.candidate_roles)}, "
            "so the task cannot go to them."
        ),
    }
    return sentences.get(refusal)


def explain(error: ApiError, about: About) -> str:
    """The sentence for an API error about a task: its refusal's, if it has one."""
    details = error.details if isinstance(error.details, dict) else {}
    try:
        sentence = _sentence(Refusal(str(details.get("refusal"))), about)
    except ValueError:  # no refusal code: an error of the API itself
        sentence = None
    if sentence:
        return sentence
    if error.status == 404:
        return "This task is not in your inbox (it may be another team's, or gone)."
    return error.message[:1].upper() + error.message[1:]


def explain_item(status: int, refusal: Refusal | None, reason: str, about: About) -> str:
    """The sentence for one task of a bulk decision."""
    return explain(ApiError(status, "refused", reason, {"refusal": refusal}), about)
