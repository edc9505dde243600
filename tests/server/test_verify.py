"""WebhookVerifier: GHL's two schemes over the raw body, its precedence, and the key formats
accepted from the environment."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ghlbridge.server.keys import GHL_ED25519_PUBLIC_KEY_PEM, GHL_RSA_PUBLIC_KEY_PEM
from ghlbridge.server.routers.webhooks import check_timestamp, parse_timestamp
from ghlbridge.server.settings import ServerSettings, SettingsError
from ghlbridge.server.verify import (
    PublicKeyError,
    VerificationError,
    WebhookVerifier,
    load_ed25519_public_key,
    load_rsa_public_key,
)

ED_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BODY = json.dumps({"type": "ContactCreate", "webhookId": "w1"}).encode()


def _pem(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _headers(body: bytes = BODY) -> dict[str, str]:
    return {
        "x-ghl-signature": base64.b64encode(ED_KEY.sign(body)).decode(),
        "x-wh-signature": base64.b64encode(
            RSA_KEY.sign(body, padding.PKCS1v15(), hashes.SHA256())
        ).decode(),
    }


VERIFIER = WebhookVerifier.from_keys(_pem(ED_KEY.public_key()), _pem(RSA_KEY.public_key()))


def test_the_defaults_are_ghls_published_keys() -> None:
    verifier = WebhookVerifier.from_keys()
    assert verifier.rsa_key is not None and verifier.rsa_key.key_size == 4096
    assert verifier.ed25519_key is not None
    assert _pem(verifier.ed25519_key) == GHL_ED25519_PUBLIC_KEY_PEM
    assert _pem(verifier.rsa_key) == GHL_RSA_PUBLIC_KEY_PEM


def test_ed25519_is_preferred_and_rsa_is_the_fallback() -> None:
    both = _headers()
    assert VERIFIER.verify(BODY, both) == "ed25519"
    assert VERIFIER.verify(BODY, {"x-wh-signature": both["x-wh-signature"]}) == "rsa"
    with pytest.raises(VerificationError) as info:  # a bad Ed25519 is not rescued by RSA
        VERIFIER.verify(BODY, {**both, "x-ghl-signature": _headers(b"other")["x-ghl-signature"]})
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unsigned"),
        ({"x-ghl-signature": "", "x-wh-signature": "  "}, "unsigned"),
        ({"x-ghl-signature": "%%%"}, "malformed_signature"),
        ({"x-ghl-signature": base64.b64encode(b"x" * 63).decode()}, "malformed_signature"),
        ({"x-wh-signature": base64.b64encode(b"x" * 255).decode()}, "malformed_signature"),
        ({"x-wh-signature": base64.b64encode(b"x" * 256).decode()}, "bad_signature"),
    ],
)
def test_missing_malformed_and_wrong_signatures_are_refused(
    headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(VerificationError) as info:
        VERIFIER.verify(BODY, headers)
    assert info.value.reason == reason


def test_a_signature_covers_the_exact_bytes() -> None:
    headers = _headers()
    reserialised = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    with pytest.raises(VerificationError):
        VERIFIER.verify(reserialised, headers)
    with pytest.raises(VerificationError):
        VERIFIER.verify(reserialised, {"x-wh-signature": headers["x-wh-signature"]})


def test_ed25519_keys_load_from_pem_hex_base64_raw_and_der() -> None:
    public = ED_KEY.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = _pem(public)
    for text in (
        pem,
        pem.replace("\n", "\\n"),  # one line in an env file
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(der).decode(),
    ):
        key = load_ed25519_public_key(text, source="ENV")
        key.verify(ED_KEY.sign(b"x"), b"x")


def test_rsa_keys_load_from_spki_and_pkcs1_pem_and_der() -> None:
    public = RSA_KEY.public_key()
    pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for text in (_pem(public), pkcs1.decode(), base64.b64encode(der).decode()):
        assert load_rsa_public_key(text, source="ENV").public_numbers() == public.public_numbers()


@pytest.mark.parametrize(
    ("loader", "text"),
    [
        (load_ed25519_public_key, "not a key"),
        (load_ed25519_public_key, GHL_RSA_PUBLIC_KEY_PEM),  # the wrong kind
        (load_rsa_public_key, GHL_ED25519_PUBLIC_KEY_PEM),
        (load_rsa_public_key, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
    ],
)
def test_an_unreadable_key_names_its_setting(loader: object, text: str) -> None:
    with pytest.raises(PublicKeyError, match="GHLBRIDGE_X"):
        loader(text, source="GHLBRIDGE_X")  # type: ignore[operator]


def test_settings_read_both_keys_and_limits_from_the_environment() -> None:
    env = {
        "GHLBRIDGE_WEBHOOK_ED25519_PUBLIC_KEY": _pem(ED_KEY.public_key()),
        "GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY": _pem(RSA_KEY.public_key()),
        "GHLBRIDGE_WEBHOOK_MAX_BYTES": "4096",
        "GHLBRIDGE_WEBHOOK_TOLERANCE": "60",
        "GHLBRIDGE_PUBLIC_URL": "https://hooks.example.com/",
        "GHL_CLIENT_ID": "abc-123",
        "GHLBRIDGE_OAUTH_SCOPES": "contacts.readonly, locations.readonly",
    }
    settings = ServerSettings.from_env(env, port=9000)
    assert settings.max_body_bytes == 4096 and settings.timestamp_tolerance == 60.0
    assert settings.redirect_uri == "https://hooks.example.com/oauth/callback"
    assert settings.oauth_client_id == "abc-123" and settings.port == 9000
    assert settings.oauth_scopes == ("contacts.readonly", "locations.readonly")
    verifier = WebhookVerifier.from_keys(settings.webhook_ed25519_key, settings.webhook_rsa_key)
    assert verifier.verify(BODY, _headers()) == "ed25519"
    assert "secret" not in repr(ServerSettings(oauth_client_secret="s3cr3t-value"))
    with pytest.raises(SettingsError, match="GHLBRIDGE_PORT"):
        ServerSettings.from_env({"GHLBRIDGE_PORT": "eighty"})
    with pytest.raises(SettingsError, match="webhook_rate_limit"):
        ServerSettings(webhook_rate_limit="lots")


def test_timestamps_are_iso_or_epoch_and_must_be_inside_the_window() -> None:
    now = time.time()
    assert parse_timestamp("2025-01-28T14:35:00Z") == 1738074900.0
    assert parse_timestamp(1738074900000) == 1738074900.0
    assert parse_timestamp("1738074900") == 1738074900.0
    assert parse_timestamp("2025-01-28T14:35:00") is None  # no time zone
    assert parse_timestamp(True) is None
    assert check_timestamp({"timestamp": now - 200}, 300, now) is None
    assert check_timestamp({}, 300, now) is None
    assert "window" in str(check_timestamp({"timestamp": now - 400}, 300, now))
    assert "ISO 8601" in str(check_timestamp({"timestamp": "soon"}, 300, now))
