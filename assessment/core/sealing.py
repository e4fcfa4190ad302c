"""Sealing data with a key the server does not keep (AES-256-GCM, from ``cryptography``).

A rater's unsubmitted answers are sealed with a key that lives only in their browser (an
HttpOnly cookie): the database holds ciphertext that nobody else, the coach included, can open,
even holding a live link (docs/anonymity.md, "Drafts"). The data the ciphertext belongs to (the
invitation) is bound in as associated data, so a sealed draft moved to another invitation does
not open.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


@dataclass(frozen=True)
class BrowserKey:
    """A key a browser holds; ``id`` names it publicly (a cookie name), ``secret`` is the key."""

    id: str
    secret: bytes

    @classmethod
    def new(cls) -> BrowserKey:
        return cls(secrets.token_hex(8), AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_cookie(cls, key_id: str, value: str | None) -> BrowserKey | None:
        """The key a cookie holds, or None for a missing or malformed one."""
        if not value:
            return None
        try:
            secret = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
        except ValueError:
            return None
        return cls(key_id, secret) if len(secret) == 32 else None

    @property
    def cookie_value(self) -> str:
        return base64.urlsafe_b64encode(self.secret).decode().rstrip("=")


def seal(key: BrowserKey, data: Any, context: str) -> bytes:
    """``data`` (JSON-able) sealed for ``context``: a fresh nonce, then the ciphertext."""
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return nonce + AESGCM(key.secret).encrypt(nonce, plain, context.encode())


def unseal(key: BrowserKey, sealed: bytes, context: str) -> Any | None:
    """The data, or None when this key (or context) does not open it."""
    try:
        plain = AESGCM(key.secret).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode()
        )
    except (InvalidTag, ValueError):
        return None
    return json.loads(plain)
