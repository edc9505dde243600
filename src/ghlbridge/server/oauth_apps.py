"""The Marketplace app the server installs, and the one-time `state` values of `/oauth/start`.

The client secret is vault ciphertext in the store (never in settings files): it gets there
through ``PUT /api/oauth/app`` or, once at start-up, from ``GHLBRIDGE_OAUTH_CLIENT_SECRET``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from ghlbridge.client.oauth import OAuthApp
from ghlbridge.client.transport import Transport
from ghlbridge.store.db import begin_write, upsert
from ghlbridge.store.schema import oauth_apps, oauth_states, utcnow
from ghlbridge.store.vault import Vault

DEFAULT_APP = "default"
STATE_TTL = 600.0


@dataclass(frozen=True)
class OAuthAppConfig:
    """A configured app: id and scopes are public; the secret is decrypted on demand."""

    client_id: str
    scopes: tuple[str, ...]
    _secret: Callable[[], str] = field(repr=False, compare=False)

    @property
    def app_id(self) -> str:
        return self.client_id.split("-")[0]

    def client_secret(self) -> str:
        return self._secret()

    def oauth_app(
        self,
        redirect_uri: str,
        *,
        base_url: str,
        marketplace_url: str,
        transport: Transport | None = None,
    ) -> OAuthApp:
        return OAuthApp(
            self.client_id,
            self.client_secret(),
            redirect_uri,
            self.scopes,
            base_url=base_url,
            marketplace_url=marketplace_url,
            transport=transport,
        )


class OAuthAppStore:
    """The server's Marketplace app (one, named "default") and its pending `state`s."""

    def __init__(self, engine: Engine, vault: Vault) -> None:
        self._engine = engine
        self._vault = vault

    def get(self) -> OAuthAppConfig | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(oauth_apps).where(oauth_apps.c.name == DEFAULT_APP)).first()
        if row is None:
            return None
        data = row._mapping
        ciphertext, key_id = bytes(data["secret_ciphertext"]), str(data["key_id"])

        def secret() -> str:
            value = self._vault.decrypt_json(ciphertext, key_id, what="the OAuth client secret")
            return str(value)

        return OAuthAppConfig(str(data["client_id"]), tuple(data["scopes"] or ()), secret)

    def put(self, client_id: str, client_secret: str, scopes: Sequence[str]) -> OAuthAppConfig:
        if not client_id.strip():
            raise ValueError("client_id: must not be empty")
        if not client_secret:
            raise ValueError("client_secret: must not be empty")
        clean = [s for s in dict.fromkeys(scopes) if s]
        if any(not s.strip() or any(c.isspace() for c in s) for s in clean):
            raise ValueError("scopes: a scope cannot contain spaces")
        ciphertext, key_id = self._vault.encrypt_json(client_secret)
        row = {
            "name": DEFAULT_APP,
            "client_id": client_id.strip(),
            "scopes": clean,
            "secret_ciphertext": ciphertext,
            "key_id": key_id,
            "updated_at": utcnow(),
        }
        with begin_write(self._engine) as conn:
            upsert(conn, oauth_apps, row, ["name"])
        config = self.get()
        assert config is not None
        return config

    # -- state ----------------------------------------------------------------------------

    def issue_state(self, ttl: float = STATE_TTL) -> str:
        """A new random `state`, usable once within `ttl` seconds (stored as its hash)."""
        state = secrets.token_urlsafe(24)
        now = utcnow()
        with begin_write(self._engine) as conn:
            conn.execute(delete(oauth_states).where(oauth_states.c.expires_at < now))
            conn.execute(
                oauth_states.insert().values(
                    state_hash=_digest(state),
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
        return state

    def consume_state(self, state: str) -> bool:
        """True once for a `state` this server issued that has not expired."""
        with begin_write(self._engine) as conn:
            deleted = conn.execute(
                delete(oauth_states).where(
                    oauth_states.c.state_hash == _digest(state),
                    oauth_states.c.expires_at >= utcnow(),
                )
            ).rowcount
        return bool(deleted)


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


__all__ = ["DEFAULT_APP", "STATE_TTL", "OAuthAppConfig", "OAuthAppStore"]
