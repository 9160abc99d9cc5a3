"""Key rings: the secrets that seal payloads (core/codec.py) and sign task actions
(core/signing.py), each configured as `BATON_<PURPOSE>_KEYS` (JSON: key id -> base64 of 32
random bytes, e.g. `openssl rand -base64 32`) and `BATON_<PURPOSE>_KEY_ID` (the key in use;
default the last id). Every key in a ring is accepted, only the current one is used for new
data: add a key, make it current, drop the old one when nothing needs it any more.

In dev without configured keys, the embedded stack makes one key per ring once, in its data
directory, so every process of the stack shares it and a restart still reads old data; in prod
missing keys stop Baton at start.
"""

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from core.settings import Environment, Settings

KEY_BYTES = 32


class KeyringError(ValueError):
    """The keys are missing or malformed: Baton cannot start."""


@dataclass(frozen=True)
class Keyring:
    current: str  # the id of the key in use
    keys: Mapping[str, bytes] = field(repr=False)  # never printed
    source: str = "the key ring"  # where the keys come from, for messages

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyringError(
                f"the current key id {self.current!r} is not in {self.source} "
                f"(ids: {', '.join(sorted(self.keys)) or 'none'})"
            )
        for key_id, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise KeyringError(
                    f"{self.source}: key {key_id!r} has {len(key)} bytes; it needs "
                    f"{KEY_BYTES} (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
                )

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for another purpose (e.g. signing sessions), from the current key."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode())
        return hkdf.derive(self.keys[self.current])


def load_keyring(settings: Settings, purpose: str) -> Keyring:
    """The ring of `BATON_<PURPOSE>_KEYS`; in dev without keys, the stack's own."""
    name = f"BATON_{purpose.upper()}"
    configured: dict[str, SecretStr] = getattr(settings, f"{purpose}_keys")
    current: str = getattr(settings, f"{purpose}_key_id")
    if configured:
        encoded = {key_id: key.get_secret_value() for key_id, key in configured.items()}
        source = f"{name}_KEYS"
    elif settings.env is Environment.DEV:
        path = settings.data_dir / f"{purpose}-keys.json"
        encoded, source = _dev_keys(path), str(path)
    else:
        raise KeyringError(
            f"{name}_KEYS is not set: in prod every Baton process needs them, e.g. "
            f'{name}_KEYS=\'{{"k1": "<base64 of 32 random bytes>"}}\' (make one with '
            "`openssl rand -base64 32`), the same value for the API, the workers and the CLI"
        )
    decoded = {}
    for key_id, text in encoded.items():
        try:
            decoded[key_id] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"{source}: key {key_id!r} is not base64") from None
    return Keyring(current or max(decoded, default=""), decoded, source)


def _dev_keys(path: Path) -> dict[str, str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        content = json.dumps({"dev-1": base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()})
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        # Readable by its owner only from the first byte on (no chmod after the fact).
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(content)
        try:
            path.hardlink_to(candidate)  # atomic: the first process to link it wins
        except FileExistsError:
            pass  # another process of the stack made it first: use that one
        finally:
            candidate.unlink()
    try:
        keys = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyringError(f"{path}: cannot read the dev keys: {exc}") from None
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise KeyringError(f'{path}: expected {{"key id": "base64 key", ...}}')
    return keys
