"""ClickBank Instant Notification Service (INS 6.0-8.0): decrypt, read and dedupe notifications.

ClickBank POSTs ``{"notification": <base64 ciphertext>, "iv": <base64 of 16 bytes>}``. The
ciphertext is AES-256-CBC with PKCS#7 padding under a key made from the account's secret key:
the first 32 characters of the lower-case hex SHA-1 of the secret, used as 32 ASCII bytes (not
hex-decoded). No signature is sent: decryption to a JSON object holding `receipt` and
`transactionType` is the only proof that ClickBank (or someone with the secret) sent it, which
is why garbage that happens to pass the padding check is still rejected.

The errors (see `errors.py`) name what is wrong in one line and never echo the secret key or
the decrypted content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ghlbridge.connectors.clickbank.errors import (
    BadBase64,
    BadEnvelope,
    BadIV,
    BadSecretKey,
    InsError,
    MissingFields,
    NotJSON,
    WrongKeyOrCorrupt,
)
from ghlbridge.connectors.clickbank.notification import (
    SUPPORTED_VERSIONS,
    Customer,
    InsNotification,
    LineItem,
    Party,
    dedupe_key,
    missing_fields,
    parse_notification,
)

BLOCK = 16
# Older senders pad with NULs or spaces instead of PKCS#7: strip trailing bytes 0x00-0x20.
_LOOSE_PADDING = bytes(range(0x21))
# Control characters never found in JSON text; garbage from a wrong key is full of them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WRONG_KEY = "cannot decrypt notification: wrong secret key or corrupted data"


def derive_key(secret_key: str) -> bytes:
    """ClickBank's AES-256 key: 32 ASCII bytes of the lower-case hex SHA-1 of the secret."""
    if not secret_key:
        raise BadSecretKey("ClickBank secret key is empty")
    digest = hashlib.sha1(secret_key.encode("utf-8"), usedforsecurity=False).hexdigest()
    return digest[:32].encode("ascii")


def decrypt_notification(body: bytes | str, secret_key: str) -> dict[str, Any]:
    """Decrypt an INS POST body to its JSON object; raise an `InsError` subclass if unusable."""
    key = derive_key(secret_key)
    ciphertext, iv = _read_envelope(body)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = _unpad(decryptor.update(ciphertext) + decryptor.finalize())
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        raise WrongKeyOrCorrupt(_WRONG_KEY) from None
    if _CONTROL.search(text):
        raise WrongKeyOrCorrupt(_WRONG_KEY)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the text may be customer data.
        raise NotJSON(
            f"decrypted notification is not JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise NotJSON(f"decrypted notification is JSON {type(data).__name__}, not an object")
    missing = missing_fields(data)
    if missing:
        raise MissingFields(missing)
    return data


def encrypt_notification(
    payload: Mapping[str, Any] | bytes, secret_key: str, *, iv: bytes | None = None
) -> bytes:
    """Make an INS POST body exactly as ClickBank does (for tests, demos and the sandbox)."""
    iv = os.urandom(BLOCK) if iv is None else iv
    if len(iv) != BLOCK:
        raise BadIV(f"iv is {len(iv)} bytes, expected {BLOCK}")
    plain = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(derive_key(secret_key)), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    envelope = {
        "notification": base64.b64encode(ciphertext).decode("ascii"),
        "iv": base64.b64encode(iv).decode("ascii"),
    }
    return json.dumps(envelope).encode("ascii")


def _read_envelope(body: bytes | str) -> tuple[bytes, bytes]:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        envelope = json.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadEnvelope(
            'body is not JSON; expected {"notification": "...", "iv": "..."}'
        ) from None
    if not isinstance(envelope, dict):
        raise BadEnvelope('body is not a JSON object; expected {"notification": ..., "iv": ...}')
    for name in ("notification", "iv"):
        if not isinstance(envelope.get(name), str) or not envelope[name].strip():
            raise BadEnvelope(f"body has no {name!r} string")
    ciphertext = _b64("notification", envelope["notification"])
    if not ciphertext or len(ciphertext) % BLOCK:
        raise BadEnvelope(
            f"notification is {len(ciphertext)} bytes, not a positive multiple of {BLOCK}"
        )
    iv = _b64("iv", envelope["iv"])
    if len(iv) != BLOCK:
        raise BadIV(f"iv decodes to {len(iv)} bytes, expected {BLOCK}")
    return ciphertext, iv


def _b64(name: str, value: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadBase64(f"{name} is not valid base64") from None


def _unpad(plain: bytes) -> bytes:
    """Strip valid PKCS#7 padding, else trailing NULs/whitespace (ClickBank's older senders)."""
    n = plain[-1] if plain else 0
    if 1 <= n <= BLOCK and plain.endswith(bytes([n]) * n):
        return plain[:-n]
    return plain.rstrip(_LOOSE_PADDING)


__all__ = [
    "SUPPORTED_VERSIONS",
    "BadBase64",
    "BadEnvelope",
    "BadIV",
    "BadSecretKey",
    "Customer",
    "InsError",
    "InsNotification",
    "LineItem",
    "MissingFields",
    "NotJSON",
    "Party",
    "WrongKeyOrCorrupt",
    "decrypt_notification",
    "dedupe_key",
    "derive_key",
    "encrypt_notification",
    "parse_notification",
]
