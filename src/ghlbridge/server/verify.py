"""Verifies GHL webhook signatures over the raw request body, as GHL signs them.

- ``x-ghl-signature``: base64 Ed25519 signature (preferred);
- ``x-wh-signature``: base64 RSASSA-PKCS1-v1_5 with SHA-256 (legacy).

Precedence is GHL's SDKs': when ``x-ghl-signature`` is present only Ed25519 is tried, so a
forged Ed25519 header cannot be rescued by an RSA one (no downgrade); otherwise the RSA header
is checked; a request with neither is refused. Public keys load from PEM (SubjectPublicKeyInfo,
or PKCS#1 for RSA), base64 DER, or for Ed25519 the raw 32 bytes as hex or base64.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ghlbridge.server.keys import GHL_ED25519_PUBLIC_KEY_PEM, GHL_RSA_PUBLIC_KEY_PEM

ED25519_HEADER = "x-ghl-signature"
RSA_HEADER = "x-wh-signature"
Scheme = Literal["ed25519", "rsa"]
FailureReason = Literal["unsigned", "bad_signature", "malformed_signature"]
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


class PublicKeyError(ValueError):
    """A configured public key cannot be read (the message names the setting)."""


class VerificationError(Exception):
    """A webhook whose signature is missing, malformed or wrong; `reason` is for metrics."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason: FailureReason = reason


def _text(value: str | bytes) -> str:
    text = value.decode("ascii", errors="replace") if isinstance(value, bytes) else value
    # Env files often carry a PEM on one line with literal "\n" escapes.
    return text.replace("\\n", "\n").strip()


def _b64(text: str) -> bytes:
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))


def load_ed25519_public_key(value: str | bytes, *, source: str) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from PEM, base64 DER, or raw 32 bytes as hex or base64."""
    text = _text(value)
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        elif _HEX_KEY.fullmatch(text):
            key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
        else:
            raw = _b64(text)
            if len(raw) == 32:
                key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            else:
                key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error):
        raise PublicKeyError(f"{source}: not a readable Ed25519 public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise PublicKeyError(f"{source}: the key is not an Ed25519 public key")
    return key


def load_rsa_public_key(value: str | bytes, *, source: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1) or base64 DER."""
    text = _text(value)
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(_b64(text))
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error):
        raise PublicKeyError(f"{source}: not a readable RSA public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise PublicKeyError(f"{source}: the key is not an RSA public key")
    return key


def _signature(value: str, header: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("malformed_signature", f"{header} is not base64") from None


@dataclass(frozen=True)
class WebhookVerifier:
    """Checks ``x-ghl-signature`` (Ed25519) or ``x-wh-signature`` (RSA) over the raw body."""

    ed25519_key: ed25519.Ed25519PublicKey | None
    rsa_key: rsa.RSAPublicKey | None

    @classmethod
    def from_keys(
        cls,
        ed25519_key: str | None = None,
        rsa_key: str | None = None,
        *,
        ed25519_source: str = "Ed25519 key",
        rsa_source: str = "RSA key",
    ) -> WebhookVerifier:
        """Keys as text (PEM, ...); an unset one defaults to GHL's published key."""
        ed_text = ed25519_key or GHL_ED25519_PUBLIC_KEY_PEM
        rsa_text = rsa_key or GHL_RSA_PUBLIC_KEY_PEM
        return cls(
            load_ed25519_public_key(ed_text, source=ed25519_source),
            load_rsa_public_key(rsa_text, source=rsa_source),
        )

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Scheme:
        """Return the scheme that verified `body`, or raise `VerificationError`."""
        ed_value = (headers.get(ED25519_HEADER) or "").strip()
        rsa_value = (headers.get(RSA_HEADER) or "").strip()
        if ed_value and self.ed25519_key is not None:
            signature = _signature(ed_value, ED25519_HEADER)
            if len(signature) != 64:
                raise VerificationError(
                    "malformed_signature", f"{ED25519_HEADER} is not a 64-byte signature"
                )
            try:
                self.ed25519_key.verify(signature, body)
            except InvalidSignature:
                raise VerificationError(
                    "bad_signature", f"{ED25519_HEADER} does not match the body"
                ) from None
            return "ed25519"
        if rsa_value and self.rsa_key is not None:
            signature = _signature(rsa_value, RSA_HEADER)
            if len(signature) != (self.rsa_key.key_size + 7) // 8:
                raise VerificationError(
                    "malformed_signature", f"{RSA_HEADER} has the wrong length for the key"
                )
            try:
                self.rsa_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise VerificationError(
                    "bad_signature", f"{RSA_HEADER} does not match the body"
                ) from None
            return "rsa"
        raise VerificationError(
            "unsigned", f"the request carries neither {ED25519_HEADER} nor {RSA_HEADER}"
        )


__all__ = [
    "ED25519_HEADER",
    "RSA_HEADER",
    "PublicKeyError",
    "VerificationError",
    "WebhookVerifier",
    "load_ed25519_public_key",
    "load_rsa_public_key",
]
