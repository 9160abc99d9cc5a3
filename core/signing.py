"""Signed task actions: the API and the CLI sign every action they send to a task; the workers
verify it, so a signal sent by hand (`temporal workflow signal ...`) cannot act as a person.

A signature is `key-id:hex(HMAC-SHA256(key, canonical action))`. Keys rotate: the current key
id signs, every key in the ring verifies. In dev, without configured keys, one key is created
once in the data directory, shared by every process of the embedded stack.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from core.settings import Environment, Settings
from workflows.contracts.tasks import TaskAction


@dataclass(frozen=True)
class Keyring:
    current: str  # the id of the key that signs
    keys: dict[str, bytes]

    def sign(self, task_id: str, action: TaskAction) -> TaskAction:
        digest = _mac(self.keys[self.current], task_id, action)
        return action.model_copy(update={"signature": f"{self.current}:{digest}"})

    def verify(self, task_id: str, action: TaskAction) -> bool:
        key_id, _, digest = action.signature.partition(":")
        key = self.keys.get(key_id)
        return key is not None and hmac.compare_digest(digest, _mac(key, task_id, action))


def _mac(key: bytes, task_id: str, action: TaskAction) -> str:
    content = {"task_id": task_id, **action.model_dump(mode="json", exclude={"signature"})}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def keyring(settings: Settings) -> Keyring:
    """The configured keys (`BATON_SIGNING_KEYS`, `BATON_SIGNING_KEY_ID`); in dev without
    them, the dev stack's own key."""
    if settings.signing_keys:
        keys = {
            key_id: base64.b64decode(key.get_secret_value())
            for key_id, key in settings.signing_keys.items()
        }
        current = settings.signing_key_id or sorted(keys)[-1]
        if current not in keys:
            raise ValueError(f"BATON_SIGNING_KEY_ID {current!r} is not in BATON_SIGNING_KEYS")
        return Keyring(current, keys)
    if settings.env is not Environment.DEV:
        raise ValueError("set BATON_SIGNING_KEYS (and BATON_SIGNING_KEY_ID) in prod")
    return Keyring("dev", {"dev": _dev_key(settings.data_dir / "signing.key")})


def _dev_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        candidate.write_bytes(base64.b64encode(secrets.token_bytes(32)))
        candidate.chmod(0o600)
        try:
            path.hardlink_to(candidate)  # atomic: the first process to create it wins
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return base64.b64decode(path.read_bytes())
