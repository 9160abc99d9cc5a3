"""How a run tells the code it was recorded with: one patch marker, in its first workflow task.

A patch checked in the middle of a run can replay on the other branch: when a local activity
finishes while its workflow task is being completed, what the code does next lands in the next
workflow task, yet on replay it runs in the same one, where that task's patch marker is not yet
known. So a run records FROM_THE_START in its first workflow task (before any activity) and
every later change asks it. Runs recorded before it fall back to each change's own marker,
where they recorded it.
"""

from temporalio import workflow

FROM_THE_START = "patches-from-the-start"


class Patches:
    """Made in a workflow's initialiser, the first code of every run, with the changes made
    since FROM_THE_START (`later`): a run has one of those only if its first workflow task
    recorded its marker too."""

    def __init__(self, *later: str) -> None:
        self._from_the_start = workflow.patched(FROM_THE_START)
        self._later = {patch_id: workflow.patched(patch_id) for patch_id in later}

    def patched(self, patch_id: str) -> bool:
        """Whether the run has the change `patch_id` (every run recorded since FROM_THE_START,
        for a change made before it)."""
        if patch_id in self._later:
            return self._later[patch_id]
        return self._from_the_start or workflow.patched(patch_id)
