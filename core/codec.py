"""Sealed payloads: every payload Baton hands Temporal is encrypted (AES-256-GCM) first.

Temporal keeps what clients and workers send it: process inputs (free text with e-mail
addresses, phone numbers, IBANs), results, signals, updates, memos, summaries and failures. The
codec seals each payload before it leaves the process, so the server, its database, its UI and
anyone reading a history see ciphertext only; `core.temporal.data_converter` puts it on every
client and worker, with failure messages and stack traces moved into a payload (sealed too).

A sealed payload has the metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`;
its data is a 12-byte random nonce followed by AES-GCM of the whole original payload (metadata
included), with the key id as associated data. One AES-GCM operation per payload.

Rotation (core/keys.py): new payloads are sealed with the current key (`BATON_CODEC_KEY_ID`,
default the last id); any key in `BATON_CODEC_KEYS` opens the payloads that name it. Add the
new key, make it current, and drop the old one only once no open run or retained history needs
it. Payloads that are not sealed (histories recorded before the codec, search attributes) pass
through unchanged.
"""

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core import keys
from core.keys import Keyring
from core.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class SealedPayloadError(ValueError):
    """A sealed payload cannot be opened: its key is not configured, or it was altered."""


def load_keyring(settings: Settings) -> Keyring:
    """`BATON_CODEC_KEYS`, or the embedded stack's own key in dev (core/keys.py)."""
    return keys.load_keyring(settings, "codec")


class SealingCodec(PayloadCodec):
    """AES-256-GCM over each payload; see the module's docstring."""

    def __init__(self, keyring: Keyring) -> None:
        self._current = keyring.current.encode()
        self._ciphers = {key_id.encode(): AESGCM(key) for key_id, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") == ENCODING:
            return payload  # sealed already
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(
            nonce, payload.SerializeToString(), self._current
        )
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self._current}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not sealed: plain histories from before the codec stay readable
        key_id = payload.metadata.get(KEY_ID, b"")
        cipher = self._ciphers.get(key_id)
        name = key_id.decode(errors="replace")
        if cipher is None:
            known = ", ".join(sorted(k.decode() for k in self._ciphers))
            raise SealedPayloadError(
                f"payload sealed with key {name!r}, which BATON_CODEC_KEYS lacks (it has: "
                f"{known}); add the old key back to read it"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id)
        except InvalidTag:
            raise SealedPayloadError(
                f"payload sealed with key {name!r} does not authenticate: it was altered, or "
                "the key under that id is not the one that sealed it"
            ) from None
        return Payload.FromString(plain)
