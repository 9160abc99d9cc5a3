"""Signed task actions: the API and the CLI sign every action they send to a task; the workers
verify it, so a signal sent by hand (`temporal workflow signal ...`) cannot act as a person.

A signature is `key-id:hex(HMAC-SHA256(key, canonical action))`, with the keys of
`BATON_SIGNING_KEYS` (core/keys.py: the current key signs, every key of the ring verifies).
"""

import hashlib
import hmac
import json
from dataclasses import dataclass

from core.keys import Keyring, load_keyring
from core.settings import Settings
from workflows.contracts.tasks import TaskAction


@dataclass(frozen=True)
class Signer:
    keyring: Keyring

    def sign(self, task_id: str, action: TaskAction) -> TaskAction:
        ring = self.keyring
        digest = _mac(ring.keys[ring.current], task_id, action)
        return action.model_copy(update={"signature": f"{ring.current}:{digest}"})

    def verify(self, task_id: str, action: TaskAction) -> bool:
        key_id, _, digest = action.signature.partition(":")
        key = self.keyring.keys.get(key_id)
        expected = _mac(key, task_id, action) if key is not None else ""
        return key is not None and hmac.compare_digest(digest.encode(), expected.encode())


def _mac(key: bytes, task_id: str, action: TaskAction) -> str:
    # An action without roles is signed as before they were signed, so actions signed by an
    # earlier release still verify (upgrade the workers before the API: an earlier worker
    # does not know the roles the API now signs).
    left_out = {"signature"} | ({"roles"} if action.roles is None else set())
    content = {"task_id": task_id, **action.model_dump(mode="json", exclude=left_out)}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def signer(settings: Settings) -> Signer:
    return Signer(load_keyring(settings, "signing"))
